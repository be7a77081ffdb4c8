/** The options exactly as the user gave them to forRoot / forRootAsync. */
export const THROTTLING_OPTIONS = Symbol('nestjs-throttling:options');
/** The validated settings the guard, the interceptor and the registry run on. */
export const THROTTLING_SETTINGS = Symbol('nestjs-throttling:settings');
/** Metadata keys written by the decorators. */
export const THROTTLE_CLASSES_METADATA = 'nestjs-throttling:classes';
export const THROTTLE_SCOPE_METADATA = 'nestjs-throttling:scope';
export const THROTTLE_COST_METADATA = 'nestjs-throttling:cost';

export { THROTTLING_RUNTIME } from '../../throttles/throttling-runtime.js';
