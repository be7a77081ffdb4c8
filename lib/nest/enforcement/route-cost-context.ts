import type { ThrottleContext } from '../../throttles/throttle.js';

/**
 * The request's context with the route's @ThrottleCost as `ctx.cost`, for a transport binding that
 * left it out (one written before createContext() was given the cost). A cost the binding set is
 * kept. The binding's context is made per request, so it is given the property; a frozen one (or
 * one whose `cost` cannot be redefined) is wrapped instead, its members read through the prototype.
 */
export function withRouteCost(ctx: ThrottleContext, cost: number | undefined): ThrottleContext {
  if (cost === undefined || ctx.cost !== undefined) return ctx;
  const property = { value: cost, enumerable: true };
  const own = Object.getOwnPropertyDescriptor(ctx, 'cost');
  if (Object.isExtensible(ctx) && own?.configurable !== false) return Object.defineProperty(ctx, 'cost', property);
  return Object.create(ctx, { cost: property }) as ThrottleContext;
}
