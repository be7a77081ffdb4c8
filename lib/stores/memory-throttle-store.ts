import { type Clock, systemClock } from '../core/clock.js';
import { HitLog } from '../core/hit-log.js';
import { hitSlidingLog, readSlidingLog, recordSlidingLog } from '../core/sliding-log.js';
import type { HitResult, RecordedHit, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';

export interface MemoryThrottleStoreOptions {
  /** Milliseconds since the epoch. Defaults to Date.now. */
  readonly clock?: Clock;
  /**
   * The most keys kept at once. Past it the least recently used key is forgotten, so memory stays
   * bounded whatever the number of clients. Default 100,000.
   */
  readonly maxKeys?: number;
}

/** How many entries each operation inspects for expiry: enough to outpace new keys, small enough to be free. */
const SWEEP_STEPS_PER_OPERATION = 2;

/**
 * The embedded store: counts live in this process.
 *
 * - No timer per key or per hit: expiry is checked when a key is touched, and an incremental sweep
 *   inspects a couple of entries per operation, so reclaiming never pauses for all keys at once.
 * - A Map keeps keys in least-recently-used order (a touched key is moved to the end), so eviction
 *   past `maxKeys` drops the first entry in O(1).
 * - Every operation is synchronous, so checks on one key are atomic within the process.
 */
export class MemoryThrottleStore implements ThrottleStore {
  private readonly logs = new Map<string, HitLog>();
  private readonly clock: Clock;
  private readonly maxKeys: number;
  private sweeper: IterableIterator<[string, HitLog]> | undefined;

  constructor(options: MemoryThrottleStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new ThrottleConfigError(`MemoryThrottleStore: maxKeys must be a positive integer, got ${String(maxKeys)}`);
    }
    this.maxKeys = maxKeys;
  }

  /** How many keys are held now (for monitoring and tests). */
  get size(): number {
    return this.logs.size;
  }

  hit(checks: readonly WindowCheck[]): HitResult[] {
    const now = this.clock();
    this.sweep(now);
    const results = new Array<HitResult>(checks.length);
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i];
      results[i] = hitSlidingLog(this.touch(check.key, now), check, now);
    }
    return results;
  }

  record(hits: readonly RecordedHit[]): void {
    const now = this.clock();
    this.sweep(now);
    for (const hit of hits) recordSlidingLog(this.touch(hit.key, now), hit.windowMs, hit.ttlMs, now);
  }

  peek(key: string, windowMs: number): WindowState {
    const now = this.clock();
    const log = this.logs.get(key);
    if (log === undefined || log.expiresAt <= now) return { count: 0, oldest: null, now };
    return readSlidingLog(log, windowMs, now);
  }

  reset(key: string): void {
    this.logs.delete(key);
  }

  close(): void {
    this.logs.clear();
    this.sweeper = undefined;
  }

  /** Returns the key's log, fresh if it expired, and marks it most recently used. */
  private touch(key: string, now: number): HitLog {
    let log = this.logs.get(key);
    if (log === undefined) {
      log = new HitLog();
      this.logs.set(key, log);
      if (this.logs.size > this.maxKeys) this.evictLeastRecentlyUsed();
      return log;
    }
    if (log.expiresAt <= now) log.clear();
    this.logs.delete(key);
    this.logs.set(key, log);
    return log;
  }

  private evictLeastRecentlyUsed(): void {
    const oldest = this.logs.keys().next();
    if (!oldest.done) this.logs.delete(oldest.value);
  }

  /** Inspects the next few entries in map order and drops the expired ones. */
  private sweep(now: number): void {
    if (this.logs.size === 0) return;
    for (let step = 0; step < SWEEP_STEPS_PER_OPERATION; step++) {
      this.sweeper ??= this.logs.entries();
      const next = this.sweeper.next();
      if (next.done) {
        this.sweeper = undefined;
        return;
      }
      const [key, log] = next.value;
      if (log.expiresAt <= now) this.logs.delete(key);
    }
  }
}
