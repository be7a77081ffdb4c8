import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { classRecordsAfterHandler } from '../../throttles/records-after-handler.js';
import type { ThrottleClass } from '../../throttles/throttle-class.js';
import { ThrottleAccessInterceptor } from '../enforcement/throttle-access.interceptor.js';
import { THROTTLE_CLASSES_METADATA } from '../module/tokens.js';

/**
 * The throttles of a controller or handler (DRF's throttle_classes). The handler's list beats the
 * controller's, which beats `defaultThrottles`. With no arguments, throttling is off there.
 *
 * When a listed throttle records accesses after the handler (Tastypie's CacheThrottle, ...), the
 * access interceptor is bound here too, so routes without one never pay for it.
 */
export const ThrottleClasses = (...classes: ThrottleClass[]) => {
  const metadata = SetMetadata(THROTTLE_CLASSES_METADATA, classes);
  if (!classes.some(classRecordsAfterHandler)) return metadata;
  return applyDecorators(metadata, UseInterceptors(ThrottleAccessInterceptor));
};
