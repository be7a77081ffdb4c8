import { SetMetadata } from '@nestjs/common';
import { THROTTLE_SCOPE_METADATA } from '../module/tokens.js';
import { describeValue } from '../../core/describe-value.js';

/**
 * The scope read by ScopedThrottle (DRF's throttle_scope). The handler's beats the controller's, and
 * a subclass's beats its base class's; `null` clears an inherited scope (DRF's `throttle_scope = None`),
 * so ScopedThrottle does not throttle there.
 */
export const ThrottleScope = (scope: string | null) => {
  if (scope !== null && (typeof scope !== 'string' || scope.length === 0)) {
    throw new TypeError(`@ThrottleScope() takes a non-empty string, or null to clear the controller's scope, got ${describeValue(scope)}`);
  }
  return SetMetadata(THROTTLE_SCOPE_METADATA, scope);
};
