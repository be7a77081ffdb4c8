import { Injectable } from '@nestjs/common';
import { SimpleRateThrottle } from './simple-rate-throttle.js';
import type { ThrottleContext } from './throttle.js';

/**
 * DRF's AnonRateThrottle: limits unauthenticated clients by address (scope `anon`).
 * Authenticated requests are neither throttled nor counted.
 */
@Injectable()
export class AnonThrottle extends SimpleRateThrottle {
  override scope = 'anon';

  getCacheKey(ctx: ThrottleContext): string | null {
    if (ctx.userId !== null) return null;
    return this.formatKey(this.scopeFor(ctx)!, ctx.ident);
  }
}
