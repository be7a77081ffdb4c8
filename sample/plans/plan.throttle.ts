import { Injectable } from '@nestjs/common';
import { parseRate, type Rate, SimpleRateThrottle, type ThrottleContext } from '../../lib/index.js';
import { PlansService } from './plans.service.js';

const PLAN_RATES = {
  free: parseRate('5/min'),
  pro: parseRate('100/min'),
  internal: null, // not throttled
} satisfies Record<string, Rate | null>;

/**
 * A custom throttle resolved through DI: the rate depends on the customer's plan, read from an
 * injected service. It keeps the batched store path by overriding only rateFor() and getCacheKey().
 */
@Injectable()
export class PlanThrottle extends SimpleRateThrottle {
  override scope = 'plan';
  // The rate used when there is no request to look at (boot-time validation).
  override rate = '5/min';

  constructor(private readonly plans: PlansService) {
    super();
  }

  override rateFor(scope: string | undefined, ctx?: ThrottleContext): Rate | null | undefined {
    if (ctx === undefined) return super.rateFor(scope);
    return PLAN_RATES[this.plans.planOf(ctx.userId)];
  }

  getCacheKey(ctx: ThrottleContext): string {
    return this.formatKey('plan', ctx.userId ?? ctx.ident);
  }
}
