import { Injectable } from '@nestjs/common';
import type { Throttle, ThrottleContext } from '../../../lib/index.js';

/**
 * A throttle that lets everything through and writes down, in accessed(), each request whose
 * handler succeeded (Tastypie's log_throttled_access), as `transport url user`.
 */
@Injectable()
export class SuccessLogThrottle implements Throttle {
  static readonly entries: string[] = [];

  allowRequest(): boolean {
    return true;
  }

  accessed(ctx: ThrottleContext): void {
    SuccessLogThrottle.entries.push(`${ctx.transport} ${ctx.url} ${ctx.userId ?? ctx.ident}`);
  }
}
