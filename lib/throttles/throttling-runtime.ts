import type { Clock } from '../core/clock.js';
import type { Rate } from '../core/rate.js';
import type { CountingAlgorithm, ThrottleStore } from '../core/store.js';

/**
 * What built-in throttles need from the module: the store, the configured rates and algorithm.
 * Injected into throttles by property injection, so user subclasses keep their constructors free.
 */
export interface ThrottlingRuntime {
  readonly store: ThrottleStore;
  /** scope -> parsed rate; null means the scope is switched off. */
  readonly rates: ReadonlyMap<string, Rate | null>;
  /**
   * scope -> the rate as written in the module's `rates`, for throttles that read another kind of
   * rate there (BandwidthThrottle: byte rates such as '100MB/day', which `rates` cannot parse).
   */
  readonly rateInputs?: ReadonlyMap<string, unknown>;
  readonly clock: Clock;
  /** The module's `algorithm`: how rate throttles that name none count. Unset: 'sliding-log' (DRF). Tastypie throttles never read it. */
  readonly algorithm?: CountingAlgorithm;
  /** How the module was configured, so messages give advice that fits. Default 'forRoot'. */
  readonly entryPoint?: EntryPoint;
}

export type EntryPoint = 'forRoot' | 'forRootAsync';

/** How errors name the module: `ThrottlingModule` under forRoot (as always), `ThrottlingModule.forRootAsync()` under forRootAsync. */
export function moduleLabel(entryPoint: EntryPoint | undefined): string {
  return entryPoint === 'forRootAsync' ? 'ThrottlingModule.forRootAsync()' : 'ThrottlingModule';
}

/** Where to add an option: `ThrottlingModule.forRoot({ rates: ... })`, or the forRootAsync factory's options. */
export function whereToAdd(entryPoint: EntryPoint | undefined, options: string): string {
  return entryPoint === 'forRootAsync' ? `the options your ThrottlingModule.forRootAsync() factory returns ({ ${options} })` : `ThrottlingModule.forRoot({ ${options} })`;
}

export const THROTTLING_RUNTIME = Symbol('nestjs-throttling:runtime');
