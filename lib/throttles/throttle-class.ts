import type { Type } from '@nestjs/common';
import type { TastypieStyleThrottle } from './tastypie/no-throttle.js';
import type { Throttle } from './throttle.js';

/** What @ThrottleClasses() and `defaultThrottles` accept: a DRF-style Throttle or a Tastypie-style throttle class. */
export type ThrottleClass = Type<Throttle> | Type<TastypieStyleThrottle>;
