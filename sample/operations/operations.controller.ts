import { Controller, Get, Header } from '@nestjs/common';
import { register } from 'prom-client';
import { ThrottleClasses, ThrottleShadow, UserThrottle } from '../../lib/index.js';
import { Shows } from '../routes/shows.decorator.js';

/** A tighter limit being rolled out: 5 a minute per client, watched in shadow before it is enforced. */
export const BetaThrottle = UserThrottle.with({ scope: 'beta', rate: '5/min' });

@Controller()
export class OperationsController {
  /**
   * The 6th request in a minute is logged ("Shadow throttle would deny: policy 'beta' ...") and
   * counted as shadow_throttled in /metrics, but served. Drop @ThrottleShadow() to enforce it.
   *
   *   for i in $(seq 7); do curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:3000/beta; done
   */
  @Get('beta')
  @ThrottleShadow()
  @ThrottleClasses(BetaThrottle)
  @Shows('a new limit in shadow mode (@ThrottleShadow()): 5 a minute, logged and counted, never refused')
  beta(): { feature: string } {
    return { feature: 'beta' };
  }

  /** Prometheus scrapes this: prom-client's default register, where `metrics: { prometheus: {} }` reports. */
  @Get('metrics')
  @ThrottleClasses() // the scraper polls it: never throttled
  @Header('Content-Type', register.contentType)
  @Shows('Prometheus metrics (metrics: { prometheus: {} }): decisions by policy and outcome, store state, memory keys')
  metrics(): Promise<string> {
    return register.metrics();
  }
}
