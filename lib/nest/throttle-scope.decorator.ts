import { SetMetadata } from '@nestjs/common';
import { THROTTLE_SCOPE_METADATA } from './tokens.js';
import { describeValue } from '../core/describe-value.js';

/** The scope read by ScopedThrottle (DRF's throttle_scope). The handler's beats the controller's. */
export const ThrottleScope = (scope: string) => {
  if (typeof scope !== 'string' || scope.length === 0) {
    throw new TypeError(`@ThrottleScope() takes a non-empty string, got ${describeValue(scope)}`);
  }
  return SetMetadata(THROTTLE_SCOPE_METADATA, scope);
};
