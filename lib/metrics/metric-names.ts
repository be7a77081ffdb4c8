/**
 * The names of every metric and label, in one place, free of the optional packages' types so that
 * the public API can export them (for dashboards and alerts written against them).
 */

/**
 * Store call latency buckets, in seconds: an in-process store answers in microseconds, a Redis on
 * the same network in a fraction of a millisecond to a few, and the fail-safe timeout is 100 ms
 * by default (0.25 and 1 catch longer timeouts).
 */
export const STORE_CALL_BUCKETS_SECONDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export const PROMETHEUS_METRIC_NAMES = {
  decisions: 'nestjs_throttling_decisions_total',
  storeCallDuration: 'nestjs_throttling_store_call_duration_seconds',
  storeUp: 'nestjs_throttling_store_up',
  storeFallbacks: 'nestjs_throttling_store_fallbacks_total',
  memoryStoreKeys: 'nestjs_throttling_memory_store_keys',
  memoryStoreEvictions: 'nestjs_throttling_memory_store_evictions_total',
  accessLogBufferedRows: 'nestjs_throttling_access_log_buffered_rows',
  accessLogWrittenRows: 'nestjs_throttling_access_log_written_rows_total',
  accessLogDroppedRows: 'nestjs_throttling_access_log_dropped_rows_total',
} as const;

/** The instrumentation scope name: the package's name. */
export const METER_NAME = 'nestjs-throttling';

/**
 * Instrument names per the OpenTelemetry naming conventions: a `nestjs_throttling` namespace,
 * dot-separated, units in `unit` and never in the name, no `_total`; counters of things are plural
 * (`decisions`, `{decision}`), UpDownCounters are not (`key.count`), a bounded buffer has `.usage`.
 */
export const OTEL_METRIC_NAMES = {
  decisions: 'nestjs_throttling.decisions',
  storeCallDuration: 'nestjs_throttling.store.call.duration',
  storeUp: 'nestjs_throttling.store.up',
  storeFallbacks: 'nestjs_throttling.store.fallbacks',
  memoryStoreKeyCount: 'nestjs_throttling.memory_store.key.count',
  memoryStoreEvictions: 'nestjs_throttling.memory_store.evictions',
  accessLogBufferUsage: 'nestjs_throttling.access_log.buffer.usage',
  accessLogWrittenRows: 'nestjs_throttling.access_log.written.rows',
  accessLogDroppedRows: 'nestjs_throttling.access_log.dropped.rows',
} as const;

export const OTEL_ATTRIBUTES = {
  policy: 'throttling.policy',
  outcome: 'throttling.outcome',
  transport: 'throttling.transport',
  store: 'throttling.store',
  operation: 'throttling.store.operation',
  fallback: 'throttling.store.fallback',
  /** The registry's attribute: absent on success, 'timeout', or '_OTHER' for any other failure. */
  errorType: 'error.type',
} as const;

