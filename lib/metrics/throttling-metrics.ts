import type { AccessLogStats } from '../access-log/postgres-access-log.js';
import type { StoreErrorPolicy } from '../core/store-error-policy.js';

/** What a throttle concluded for one request: a shadow throttle's would-be denial lets the request through. */
export type DecisionOutcome = 'allowed' | 'throttled' | 'shadow_throttled';
export const DECISION_OUTCOMES: readonly DecisionOutcome[] = ['allowed', 'throttled', 'shadow_throttled'];

/** The ThrottleStore method a call went to. */
export type StoreOperation = 'hit' | 'record' | 'peek' | 'reset';

/** How a store call ended: answered, failed (error or rejection), or cut off by the fail-safe timeout. */
export type StoreCallResult = 'ok' | 'error' | 'timeout';

/** Where the number of keys of a memory store is read at each scrape (a MemoryThrottleStore has `size`). */
export interface MemoryStoreSource {
  readonly size: number;
}

/** Where the access log's counters are read at each scrape (PostgresAccessLog has `stats()`). */
export interface AccessLogSource {
  stats(): Pick<AccessLogStats, 'buffered' | 'written' | 'dropped'>;
}

/**
 * What the library reports to Prometheus and/or OpenTelemetry. Held as `ThrottlingMetrics | null`:
 * null when the app configured no metrics, so the hot path pays one null check and nothing else.
 *
 * Every label value passed in is bounded by the implementation (see BoundedLabel): policy names,
 * transports and store kinds come from code and configuration, never from a client (no address,
 * no user id), and past a fixed number of distinct values they are reported as 'other'.
 *
 * Counts that the library already keeps (keys of a memory store, the access log's rows) are pulled
 * at scrape time through `observe*()` instead of being pushed per request: they cost nothing
 * between scrapes.
 */
export interface ThrottlingMetrics {
  /** One throttle's verdict on one request. `policy` is the throttle's scope (decision.policy). */
  decision(policy: string | undefined, outcome: DecisionOutcome, transport: string): void;
  /** One call to a store, with its duration in seconds (a timeout counts its full timeout). */
  storeCall(store: string, operation: StoreOperation, seconds: number, result: StoreCallResult): void;
  /** The store's outage state: false when it goes down, true when it is back (and when it is first watched). */
  storeState(store: string, up: boolean): void;
  /** A call answered by the store-error policy instead of the store (the store being down). */
  storeFallback(store: string, fallback: StoreErrorPolicy): void;
  /** A memory store forgot its least recently used key to stay within maxKeys. */
  memoryEviction(store: string): void;
  /** Reports the store's key count at each scrape, until the returned function is called. */
  observeMemoryStore(store: string, source: MemoryStoreSource): () => void;
  /** Reports the access log's buffered, written and dropped rows at each scrape, until the returned function is called. */
  observeAccessLog(source: AccessLogSource): () => void;
  /** Stops every observation this instance added (the app closes); counters already reported stay. */
  close(): void;
}

/** Reports to several backends at once (Prometheus and OpenTelemetry both configured). */
export class FanOutThrottlingMetrics implements ThrottlingMetrics {
  constructor(private readonly targets: readonly ThrottlingMetrics[]) {}

  decision(policy: string | undefined, outcome: DecisionOutcome, transport: string): void {
    for (const target of this.targets) target.decision(policy, outcome, transport);
  }
  storeCall(store: string, operation: StoreOperation, seconds: number, result: StoreCallResult): void {
    for (const target of this.targets) target.storeCall(store, operation, seconds, result);
  }
  storeState(store: string, up: boolean): void {
    for (const target of this.targets) target.storeState(store, up);
  }
  storeFallback(store: string, fallback: StoreErrorPolicy): void {
    for (const target of this.targets) target.storeFallback(store, fallback);
  }
  memoryEviction(store: string): void {
    for (const target of this.targets) target.memoryEviction(store);
  }
  observeMemoryStore(store: string, source: MemoryStoreSource): () => void {
    const stops = this.targets.map((target) => target.observeMemoryStore(store, source));
    return () => stops.forEach((stop) => stop());
  }
  observeAccessLog(source: AccessLogSource): () => void {
    const stops = this.targets.map((target) => target.observeAccessLog(source));
    return () => stops.forEach((stop) => stop());
  }
  close(): void {
    for (const target of this.targets) target.close();
  }
}
