/**
 * The contract between the throttles and whatever keeps the counts.
 *
 * A store receives every check of one request in a single call so that a networked store can answer
 * in one round trip. It owns the time (its clock, or the server's), and reports it back so that
 * throttles compute waits against the same `now` the store used.
 */
import type { AlgorithmOutcome } from './algorithms/algorithm-outcome.js';

export type Awaitable<T> = T | Promise<T>;

/**
 * How a key counts (docs/algorithms.md). 'sliding-log' keeps every hit's time (DRF's, exact: the
 * default); the others keep a constant-size counter per key, whatever the limit.
 */
export type CountingAlgorithm = 'sliding-log' | 'sliding-window' | 'gcra' | 'fixed-window';

export const COUNTING_ALGORITHMS: readonly CountingAlgorithm[] = ['sliding-log', 'sliding-window', 'gcra', 'fixed-window'];

/** One check on one key: DRF's sliding log unless `algorithm` says otherwise. */
export interface WindowCheck {
  /** The key of the bucket, e.g. `throttle_user_42`. */
  readonly key: string;
  /** At most this many hits may lie inside the window. */
  readonly limit: number;
  /** The window length in milliseconds. Hits older than that no longer count. */
  readonly windowMs: number;
  /**
   * Whether an allowed check records the hit now (DRF). Tastypie records later, from `accessed`,
   * after the handler succeeded.
   */
  readonly record: boolean;
  /**
   * How long the key is kept after its last write, in ms (at least; the Redis store keeps it up to
   * 1.5 times as long, to spare an expiry update per request). Defaults to `windowMs`. A check still
   * forgets hits older than the window, as Tastypie's should_be_throttled does.
   */
  readonly ttlMs?: number;
  /**
   * Reserve (only with `record: false`): an allowed check also holds a pending slot for this many
   * ms, in the same store operation, and the result names it (`reservation`) for settle(). Pending
   * slots count against every check's limit until settled or expired. A store without settle()
   * ignores it, and the caller then records with record() as before.
   */
  readonly reserveMs?: number;
  /**
   * Default 'sliding-log'. The counter algorithms keep no hits: `ttlMs` and `reserveMs` do not apply
   * to them, and `record: false` only answers (nothing is counted: BandwidthThrottle counts later
   * with record()).
   */
  readonly algorithm?: CountingAlgorithm;
  /** Units this request takes (a positive safe integer); default 1. A sliding log records that many hits. */
  readonly cost?: number;
  /** gcra only: units admitted at once on an idle key; default `limit`. */
  readonly burst?: number;
  /**
   * Once this check denies, the key is refused for this many ms (or the algorithm's own wait when
   * longer), without being counted; a request refused during a block does not extend it. Default 0.
   */
  readonly blockMs?: number;
  /**
   * When any check of one hit() call has it, the call is all or nothing: if any check denies, none
   * is counted (denied checks still start their blocks). Without it (DRF), every check that allows
   * records, whatever the others answer.
   */
  readonly allOrNothing?: boolean;
}

/** The state of one window, as the store saw it at `now`. */
export interface WindowState {
  /** Hits inside the window before this request (DRF: len(history) after pruning). */
  readonly count: number;
  /** Time of the oldest hit inside the window, or null when the window is empty. */
  readonly oldest: number | null;
  /** The store's time for this evaluation, in ms. */
  readonly now: number;
}

/** The outcome of one check. Denied checks never record a hit. */
export interface HitResult extends WindowState {
  readonly allowed: boolean;
  /**
   * On a denial: the time of the `limit`-th newest hit in the window, the one whose leaving frees a
   * slot (Tastypie's wait). Only reported when the window holds more than `limit` hits; otherwise
   * (or from a store that does not report it) it is undefined and `oldest` is that hit.
   */
  readonly blockingHit?: number | null;
  /**
   * True when nothing was counted: the store failed and its policy ('allow') let the request through
   * unseen. Throttles then allow without a limit, so no RateLimit header claims a count nobody kept.
   */
  readonly uncounted?: boolean;
  /** The pending slot an allowed reserving check holds (see `reserveMs`), to pass to settle(). */
  readonly reservation?: string;
  /**
   * The decision in units. Always there for the counter algorithms, and for a sliding-log check
   * with a cost above 1 or a `blockMs` (then count and oldest are reported too); absent for DRF's
   * plain check, whose decision throttles compute from count and oldest exactly as DRF does.
   */
  readonly outcome?: AlgorithmOutcome;
}

/**
 * The outcome of a reserved check: `commit` records the access at the settling time (exactly what
 * record() records) and drops the pending slot; `release` only drops it. A slot that expired or was
 * settled already is not dropped twice; a commit records the access all the same.
 */
export interface Settlement {
  readonly key: string;
  readonly reservation: string;
  readonly commit: boolean;
  readonly windowMs: number;
  readonly ttlMs?: number;
}

/**
 * Units to record without a check: Tastypie's `accessed` (one hit on a sliding log), or bytes sent
 * (BandwidthThrottle, `cost` of them on a counter algorithm, counted even past the limit).
 */
export interface RecordedHit {
  readonly key: string;
  readonly windowMs: number;
  readonly ttlMs?: number;
  /** Default 'sliding-log'. The counter algorithms need `limit` (and gcra its `burst`) to count. */
  readonly algorithm?: CountingAlgorithm;
  readonly limit?: number;
  readonly burst?: number;
  /** Units recorded; default 1. */
  readonly cost?: number;
}

/** What peek() needs to read a counter algorithm's key (a sliding log needs only the window). */
export interface PeekCounting {
  readonly algorithm: CountingAlgorithm;
  readonly limit: number;
  readonly burst?: number;
}

export interface ThrottleStore {
  /** Evaluates and records every check of one request, atomically per key. Results are in input order. */
  hit(checks: readonly WindowCheck[]): Awaitable<HitResult[]>;
  /** Records hits unconditionally. */
  record(hits: readonly RecordedHit[]): Awaitable<void>;
  /**
   * Settles reservations (see `WindowCheck.reserveMs`). Optional: a store without it never answers
   * with a `reservation`, and throttles then check without holding and record with record().
   */
  settle?(settlements: readonly Settlement[]): Awaitable<void>;
  /**
   * Reads a key without changing it. For a counter algorithm (`counting`), `count` is the units in
   * use now (rounded up), `oldest` is null and `outcome` is what a check costing 1 would answer.
   */
  peek(key: string, windowMs: number, counting?: PeekCounting): Awaitable<WindowState & { readonly outcome?: AlgorithmOutcome }>;
  /** Forgets a key, whatever algorithm counted it. */
  reset(key: string): Awaitable<void>;
  /** Releases timers and connections the store owns. */
  close?(): Awaitable<void>;
}
