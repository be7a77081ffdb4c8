import { THROTTLE_CLASSES_METADATA, THROTTLE_COST_METADATA, THROTTLE_SCOPE_METADATA } from '../module/tokens.js';

/** Whether a handler method itself carries @ThrottleClasses, @ThrottleScope or @ThrottleCost. */
export function hasOwnThrottleMetadata(handler: Function): boolean {
  return Reflect.hasMetadata(THROTTLE_CLASSES_METADATA, handler) || Reflect.hasMetadata(THROTTLE_SCOPE_METADATA, handler) || Reflect.hasMetadata(THROTTLE_COST_METADATA, handler);
}
