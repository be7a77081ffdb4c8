import { SetMetadata } from '@nestjs/common';
import { describeValue } from '../../core/describe-value.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { THROTTLE_COST_METADATA } from '../module/tokens.js';

/**
 * What one request to this route costs, in units of each rate throttle's limit (an export endpoint
 * worth ten reads: `@ThrottleCost(10)`). The handler's beats the controller's; a throttle's own
 * `cost` beats both. A route with a cost is consumed all or nothing: when one of its throttles
 * denies, none counts the request. Checked at boot (see routeCost), so the error names the route.
 */
export const ThrottleCost = (cost: number) => SetMetadata(THROTTLE_COST_METADATA, cost);

/** The route's @ThrottleCost (handler, else controller), checked: undefined when neither has one. */
export function routeCost(type: Function, handler: Function, where: string): number | undefined {
  const cost: unknown = Reflect.hasMetadata(THROTTLE_COST_METADATA, handler) ? Reflect.getMetadata(THROTTLE_COST_METADATA, handler) : Reflect.getMetadata(THROTTLE_COST_METADATA, type);
  if (cost === undefined) return undefined;
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost <= 0) {
    throw new ThrottleConfigError(`${where}: @ThrottleCost() takes a positive integer (the units one request costs), got ${describeValue(cost)}`);
  }
  return cost;
}
