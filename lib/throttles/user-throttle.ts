import { Injectable } from '@nestjs/common';
import { SimpleRateThrottle } from './simple-rate-throttle.js';
import type { ThrottleContext } from './throttle.js';

/**
 * DRF's UserRateThrottle: limits each authenticated user by id, and anonymous clients by address
 * (scope `user`).
 */
@Injectable()
export class UserThrottle extends SimpleRateThrottle {
  override scope = 'user';

  getCacheKey(ctx: ThrottleContext): string | null {
    return this.formatKey(this.scopeFor(ctx)!, ctx.userId ?? ctx.ident);
  }
}
