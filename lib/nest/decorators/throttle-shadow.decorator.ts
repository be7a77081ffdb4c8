import { SetMetadata } from '@nestjs/common';
import { describeValue } from '../../core/describe-value.js';

export const THROTTLE_SHADOW_METADATA = 'nestjs-throttling:shadow';

/**
 * Runs every throttle of the route (a handler, or each handler of a controller) in shadow mode:
 * counted, reported, never denied. It beats the throttle's own `mode` and the module's; the
 * handler's beats the controller's, and `@ThrottleShadow(false)` enforces a route of a controller
 * (or an app) in shadow.
 */
export const ThrottleShadow = (shadow = true) => {
  if (typeof shadow !== 'boolean') throw new TypeError(`@ThrottleShadow() takes true (the default) or false, got ${describeValue(shadow)}`);
  return SetMetadata(THROTTLE_SHADOW_METADATA, shadow);
};

/** The route's @ThrottleShadow: the handler's, else the controller's; undefined when neither has one. */
export function routeShadow(type: Function, handler: Function): boolean | undefined {
  const own: boolean | undefined = Reflect.getMetadata(THROTTLE_SHADOW_METADATA, handler);
  return own ?? (Reflect.getMetadata(THROTTLE_SHADOW_METADATA, type) as boolean | undefined);
}
