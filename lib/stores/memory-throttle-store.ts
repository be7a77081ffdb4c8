import { type Clock, systemClock, validClock } from '../core/clock.js';
import { describeValue } from '../core/describe-value.js';
import { HitLog } from '../core/hit-log.js';
import { PendingSlots } from '../core/pending-slots.js';
import { hitSlidingLog, readSlidingLog, recordSlidingLog } from '../core/sliding-log.js';
import type { HitResult, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
import type { ThrottlingMetrics } from '../metrics/throttling-metrics.js';
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
 * One key's log, linked into the recency list (older = less recently used). The entry is the log
 * itself, not an object that points at one: a check then reads one object fewer, often from a cold
 * cache line, and a key costs one object header less.
 */
class Entry extends HitLog {
  older: Entry | null = null;
  newer: Entry | null = null;
  /** Reservations held on the key (created by the first reserving check). */
  pending: PendingSlots | null = null;
  constructor(readonly key: string) {
    super();
  }

  override clear(): void {
    super.clear();
    this.pending?.clear();
  }

  /** Keeps the key at least as long as its pending slots (a write sets the expiry from its own retention). */
  keepPending(): void {
    if (this.pending !== null && this.pending.size > 0) this.expiresAt = Math.max(this.expiresAt, this.pending.latestExpiry);
  }
}

/**
 * The embedded store: counts live in this process.
 *
 * - A Map from the key finds a bucket.
 * - No timer per key or per hit: expiry is checked when a key is touched, and an incremental sweep
 *   inspects a couple of entries per operation, so reclaiming never pauses for all keys at once.
 * - A doubly linked list through the entries keeps them in least-recently-used
 *   order (a touched key is relinked at the newest end, with no allocation, unlike deleting and
 *   re-adding a Map entry), so eviction past `maxKeys` drops the oldest entry in O(1).
 * - Every operation is synchronous, so checks on one key are atomic within the process.
 */
export class MemoryThrottleStore implements ThrottleStore {
  private readonly entries = new Map<string, Entry>();
  /** Least and most recently used ends of the recency list. */
  private oldest: Entry | null = null;
  private newest: Entry | null = null;
  /** The next entry the sweep inspects, walking from the oldest end; null: start over at the oldest. */
  private sweepCursor: Entry | null = null;
  private readonly clock: Clock;
  private readonly maxKeys: number;
  /** Set by reportTo(); null (the default) costs an eviction one check. */
  private metrics: ThrottlingMetrics | null = null;
  private metricsLabel = '';
  /** The last reservation id handed out: unique within the store, which is all settle() needs. */
  private reservations = 0;

  constructor(options: MemoryThrottleStoreOptions = {}) {
    this.clock = options.clock === undefined ? systemClock : validClock(options.clock, 'MemoryThrottleStore: clock');
    const maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new ThrottleConfigError(`MemoryThrottleStore: maxKeys must be a positive integer, got ${describeValue(maxKeys)}`);
    }
    this.maxKeys = maxKeys;
  }

  /** How many keys are held now (for monitoring and tests). */
  get size(): number {
    return this.entries.size;
  }

  hit(checks: readonly WindowCheck[]): HitResult[] {
    const now = this.clock();
    this.sweep(now);
    const results = new Array<HitResult>(checks.length);
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i];
      const entry = this.touch(check.key, now);
      if (check.reserveMs === undefined || check.record) {
        results[i] = hitSlidingLog(entry, check, now, entry.pending ?? undefined);
      } else {
        results[i] = hitSlidingLog(entry, check, now, (entry.pending ??= new PendingSlots()), String(++this.reservations));
        entry.keepPending();
      }
    }
    return results;
  }

  record(hits: readonly RecordedHit[]): void {
    const now = this.clock();
    this.sweep(now);
    for (const hit of hits) {
      const entry = this.touch(hit.key, now);
      recordSlidingLog(entry, hit.windowMs, hit.ttlMs, now);
      entry.keepPending();
    }
  }

  settle(settlements: readonly Settlement[]): void {
    const now = this.clock();
    this.sweep(now);
    for (const settlement of settlements) {
      const held = this.entries.get(settlement.key);
      if (held !== undefined && held.expiresAt > now) held.pending?.drop(settlement.reservation);
      if (!settlement.commit) continue;
      const entry = this.touch(settlement.key, now);
      recordSlidingLog(entry, settlement.windowMs, settlement.ttlMs, now);
      entry.keepPending();
    }
  }

  peek(key: string, windowMs: number): WindowState {
    const now = this.clock();
    const log = this.entries.get(key);
    if (log === undefined || log.expiresAt <= now) return { count: 0, oldest: null, now };
    return readSlidingLog(log, windowMs, now);
  }

  reset(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.remove(entry);
  }

  /** Reports the number of keys at each scrape and each eviction to the metrics, under `label`. */
  reportTo(metrics: ThrottlingMetrics, label: string): void {
    this.metrics = metrics;
    this.metricsLabel = label;
    metrics.observeMemoryStore(label, this);
  }

  close(): void {
    this.entries.clear();
    this.oldest = null;
    this.newest = null;
    this.sweepCursor = null;
  }

  /** Returns the key's entry, created if new, with its log cleared if it expired, marked most recently used. */
  private touch(key: string, now: number): Entry {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = new Entry(key);
      this.entries.set(key, entry);
      this.link(entry);
      if (this.entries.size > this.maxKeys) {
        this.remove(this.oldest!);
        this.metrics?.memoryEviction(this.metricsLabel);
      }
      return entry;
    }
    return this.refresh(entry, now);
  }

  private refresh(entry: Entry, now: number): Entry {
    if (entry.expiresAt <= now) entry.clear();
    if (entry !== this.newest) {
      this.unlink(entry);
      this.link(entry);
    }
    return entry;
  }

  /** Inspects the next few entries from the least recently used end and drops the expired ones. */
  private sweep(now: number): void {
    if (this.entries.size === 0) return;
    for (let step = 0; step < SWEEP_STEPS_PER_OPERATION; step++) {
      const entry = this.sweepCursor ?? this.oldest!;
      // Reaching the newest end ends this pass; the next operation starts over at the oldest.
      this.sweepCursor = entry.newer;
      if (entry.expiresAt <= now) this.remove(entry);
      if (this.sweepCursor === null) return;
    }
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.key);
    this.unlink(entry);
  }

  /** Appends at the newest end. */
  private link(entry: Entry): void {
    entry.older = this.newest;
    entry.newer = null;
    if (this.newest === null) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
  }

  /** Takes the entry out of the list, moving the sweep past it first. */
  private unlink(entry: Entry): void {
    if (this.sweepCursor === entry) this.sweepCursor = entry.newer;
    if (entry.older === null) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === null) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = null;
    entry.newer = null;
  }
}
