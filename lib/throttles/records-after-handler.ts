import { NoThrottle } from './tastypie/no-throttle.js';
import type { Throttle } from './throttle.js';

/**
 * The one rule for "does this throttle record after the handler?": it has an `accessed()` that is
 * not NoThrottle's no-op. Such a throttle's routes need the access interceptor, and its check
 * reserves a slot that the handler's outcome commits or releases. Takes the `accessed` method itself
 * (the Tastypie adapter asks it of the throttle it wraps).
 */
export function recordsAfterHandler(accessed: unknown): boolean {
  return typeof accessed === 'function' && accessed !== NoThrottle.prototype.accessed;
}

/** For a throttle class (decorators, defaults, boot checks): read from its prototype, nothing is built. */
export function classRecordsAfterHandler(candidate: unknown): boolean {
  return recordsAfterHandler(typeof candidate === 'function' ? (candidate as { prototype?: Record<string, unknown> }).prototype?.accessed : undefined);
}

/** For a resolved throttle (a route's plan), adapted or not. */
export function throttleRecordsAfterHandler(throttle: Throttle): boolean {
  return recordsAfterHandler(throttle.accessed);
}
