import type { Clock } from '../core/clock.js';
import type { Rate } from '../core/rate.js';
import type { ThrottleStore } from '../core/store.js';

/**
 * What built-in throttles need from the module: the store and the configured rates.
 * Injected into throttles by property injection, so user subclasses keep their constructors free.
 */
export interface ThrottlingRuntime {
  readonly store: ThrottleStore;
  /** scope -> parsed rate; null means the scope is switched off. */
  readonly rates: ReadonlyMap<string, Rate | null>;
  readonly clock: Clock;
}

export const THROTTLING_RUNTIME = Symbol('nestjs-throttling:runtime');
