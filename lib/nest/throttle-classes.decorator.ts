import { SetMetadata, type Type } from '@nestjs/common';
import type { Throttle } from '../throttles/throttle.js';
import { THROTTLE_CLASSES_METADATA } from './tokens.js';

/**
 * The throttles of a controller or handler (DRF's throttle_classes). The handler's list beats the
 * controller's, which beats `defaultThrottles`. With no arguments, throttling is off there.
 */
export const ThrottleClasses = (...classes: Type<Throttle>[]) => SetMetadata(THROTTLE_CLASSES_METADATA, classes);
