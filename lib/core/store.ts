/**
 * The contract between the throttles and whatever keeps the counts.
 *
 * A store receives every check of one request in a single call so that a networked store can answer
 * in one round trip. It owns the time (its clock, or the server's), and reports it back so that
 * throttles compute waits against the same `now` the store used.
 */
export type Awaitable<T> = T | Promise<T>;

/** One sliding-window check on one key. */
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

/** A hit to record without a check (Tastypie's `accessed`). */
export interface RecordedHit {
  readonly key: string;
  readonly windowMs: number;
  readonly ttlMs?: number;
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
  /** Reads a window without changing it. */
  peek(key: string, windowMs: number): Awaitable<WindowState>;
  /** Forgets a key. */
  reset(key: string): Awaitable<void>;
  /** Releases timers and connections the store owns. */
  close?(): Awaitable<void>;
}
