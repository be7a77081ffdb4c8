import type { Clock } from '../../core/clock.js';
import { describeValue } from '../../core/describe-value.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { type ThrottleMode, validateThrottleMode } from '../../core/throttle-mode.js';
import type { ThrottleStore } from '../../core/store.js';
import { createThrottlingMetrics } from '../../metrics/create-throttling-metrics.js';
import { validateMetricsOptions } from '../../metrics/metrics-options.js';
import { storeLabel } from '../../stores/store-label.js';
import type { ThrottlingMetrics } from '../../metrics/throttling-metrics.js';
import { FailSafeThrottleStore } from '../../stores/fail-safe-throttle-store.js';
import { MemoryThrottleStore } from '../../stores/memory-throttle-store.js';
import type { ThrottlingModuleOptions } from './throttling-options.interface.js';
import { ThrottlingNotifier } from '../enforcement/throttling-notifier.js';

/** The operations options (shadow mode, hooks, metrics) once validated. */
export interface OperationSettings {
  /** The module's default mode; a throttle's own and @ThrottleShadow() beat it. */
  readonly mode: ThrottleMode;
  /** Whether shadow throttles send their RateLimit headers. */
  readonly shadowHeaders: boolean;
  /** Null when the app configured no metrics: the hot path then pays one null check. */
  readonly metrics: ThrottlingMetrics | null;
  readonly notifier: ThrottlingNotifier;
}

/** Validates `mode`, `shadowHeaders`, `onThrottled`, `onStoreStateChange` and `metrics`; loads a metrics backend only when one is configured. */
export async function createOperationSettings(options: ThrottlingModuleOptions, clock: Clock): Promise<OperationSettings> {
  const mode = validateThrottleMode(options.mode, 'ThrottlingModule') ?? 'enforce';
  const shadowHeaders = options.shadowHeaders ?? true;
  if (typeof shadowHeaders !== 'boolean') throw new ThrottleConfigError(`ThrottlingModule: shadowHeaders must be true or false, got ${describeValue(shadowHeaders)}`);
  for (const hook of ['onThrottled', 'onStoreStateChange'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') throw new ThrottleConfigError(`ThrottlingModule: ${hook} must be a function, got ${describeValue(options[hook])}`);
  }
  const metrics = await createThrottlingMetrics(validateMetricsOptions(options.metrics));
  return { mode, shadowHeaders, metrics, notifier: new ThrottlingNotifier(options.onThrottled, options.onStoreStateChange, clock) };
}

/** Lets the module's store report to the metrics: the fail-safe wrapper (and its 'local' fallback), or the memory store. */
export function reportStoreMetrics(store: ThrottleStore, metrics: ThrottlingMetrics | null): void {
  if (metrics === null) return;
  if (store instanceof FailSafeThrottleStore) store.reportTo(metrics, storeLabel(store.inner));
  else if (store instanceof MemoryThrottleStore) store.reportTo(metrics, storeLabel(store));
}
