import { Injectable } from '@nestjs/common';
import { SimpleRateThrottle } from './simple-rate-throttle.js';
import type { ThrottleContext } from './throttle.js';

/**
 * DRF's ScopedRateThrottle: the scope comes from `@ThrottleScope()` on the route, so handlers that
 * share a scope share a bucket. A route without a scope is not throttled by it.
 */
@Injectable()
export class ScopedThrottle extends SimpleRateThrottle {
  override scopeFor(ctx: ThrottleContext): string | undefined {
    return ctx.scope;
  }

  override scopeOnRoute(routeScope: string | undefined): string | undefined {
    return routeScope;
  }

  override validate(routeScope: string | undefined, where: string, routeCost?: number): void {
    // An unscoped route is simply not throttled by ScopedThrottle (DRF): only how it counts is checked.
    if (routeScope === undefined && this.rate === undefined) return this.validateCounting(where);
    super.validate(routeScope, where, routeCost);
  }

  getCacheKey(ctx: ThrottleContext): string | null {
    const scope = ctx.scope;
    if (scope === undefined) return null;
    return this.formatKey(scope, ctx.userId ?? ctx.ident);
  }
}
