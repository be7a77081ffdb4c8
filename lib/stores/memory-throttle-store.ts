import { type Clock, systemClock, validClock } from '../core/clock.js';
import { describeValue } from '../core/describe-value.js';
import { HitLog } from '../core/hit-log.js';
import { PendingSlots } from '../core/pending-slots.js';
import { hitBatch } from '../core/check-batch.js';
import { type AlgorithmOutcome, type BlockableState } from '../core/algorithms/algorithm-outcome.js';
import { blockRetentionMs } from '../core/algorithms/block-for.js';
import { checkCounter, checkedAlgorithm, clearCounterState, type CounterAlgorithm, type CounterState, counterRetentionMs, peekCounter, recordCounter } from '../core/algorithms/counter-check.js';
import { hitSlidingLog, hitSlidingLogInUnits, readSlidingLog, recordSlidingLog } from '../core/sliding-log.js';
import type { HitResult, PeekCounting, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
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

/** What peek() reads for a counter key that holds nothing. */
const FRESH_COUNTER: CounterState = Object.freeze({ windowStart: 0, used: 0, current: 0, previous: 0, tatMs: 0, tatFraction: 0, blockedUntil: 0 });

/** How many entries each operation inspects for expiry: enough to outpace new keys, small enough to be free. */
const SWEEP_STEPS_PER_OPERATION = 2;

/**
 * One key's log, linked into the recency list (older = less recently used). The entry is the log
 * itself, not an object that points at one: a check then reads one object fewer, often from a cold
 * cache line, and a key costs one object header less.
 */
class Entry extends HitLog implements BlockableState {
  older: Node | null = null;
  newer: Node | null = null;
  /** Reservations held on the key (created by the first reserving check). */
  pending: PendingSlots | null = null;
  /** Until when a blockFor refuses the key (ms); only checks with blockMs read or write it. */
  blockedUntil = 0;
  readonly algorithm = 'sliding-log';
  constructor(readonly key: string) {
    super();
  }

  override clear(): void {
    super.clear();
    this.pending?.clear();
    this.blockedUntil = 0;
  }

  /** Keeps the key at least as long as its pending slots (a write sets the expiry from its own retention). */
  keepPending(): void {
    if (this.pending !== null && this.pending.size > 0) this.expiresAt = Math.max(this.expiresAt, this.pending.latestExpiry);
  }
}

/** A counter algorithm's key: its state (lib/core/algorithms/counter-check.ts), linked like a log's entry. */
class CounterEntry implements CounterState {
  older: Node | null = null;
  newer: Node | null = null;
  expiresAt = 0;
  windowStart = 0;
  used = 0;
  current = 0;
  previous = 0;
  tatMs = 0;
  tatFraction = 0;
  blockedUntil = 0;
  constructor(
    readonly key: string,
    readonly algorithm: CounterAlgorithm,
  ) {}

  clear(): void {
    clearCounterState(this);
  }
}

type Node = Entry | CounterEntry;

/** Whether a check needs more than DRF's plain path: another algorithm, a cost, a block, all or nothing. */
function isPlain(check: WindowCheck): boolean {
  return check.algorithm === undefined && check.cost === undefined && check.blockMs === undefined && check.allOrNothing === undefined;
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
  private readonly entries = new Map<string, Node>();
  /** Least and most recently used ends of the recency list. */
  private oldest: Node | null = null;
  private newest: Node | null = null;
  /** The next entry the sweep inspects, walking from the oldest end; null: start over at the oldest. */
  private sweepCursor: Node | null = null;
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
    for (let i = 0; i < checks.length; i++) if (!isPlain(checks[i])) return hitBatch(checks, (check, commit, extraCost) => this.evaluate(check, now, commit, extraCost));
    const results = new Array<HitResult>(checks.length);
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i];
      const entry = this.touchLog(check.key, now);
      if (check.reserveMs === undefined || check.record) {
        results[i] = hitSlidingLog(entry, check, now, entry.pending ?? undefined);
      } else {
        results[i] = hitSlidingLog(entry, check, now, (entry.pending ??= new PendingSlots()), String(++this.reservations));
        entry.keepPending();
      }
    }
    return results;
  }

  /** One check of a call that is not DRF's plain one (see lib/core/check-batch.ts for commit and extraCost). */
  private evaluate(check: WindowCheck, now: number, commit: boolean, extraCost: number): HitResult {
    const algorithm = checkedAlgorithm(check.algorithm, 'MemoryThrottleStore: WindowCheck.algorithm');
    if (algorithm !== 'sliding-log') {
      const entry = this.touchCounter(check.key, algorithm, now);
      const result = checkCounter(algorithm, entry, check, now, commit, extraCost);
      if (commit) entry.expiresAt = Math.max(entry.expiresAt, now + counterRetentionMs(algorithm, entry, check.limit, check.windowMs, now));
      return result;
    }
    const entry = this.touchLog(check.key, now);
    const reserving = check.reserveMs !== undefined && !check.record;
    const pending = reserving ? (entry.pending ??= new PendingSlots()) : (entry.pending ?? undefined);
    const result = hitSlidingLogInUnits(entry, check, now, entry, commit, extraCost, pending, reserving && commit ? String(++this.reservations) : undefined);
    if (entry.blockedUntil > now) entry.expiresAt = Math.max(entry.expiresAt, now + blockRetentionMs(entry, now));
    entry.keepPending();
    return result;
  }

  record(hits: readonly RecordedHit[]): void {
    const now = this.clock();
    this.sweep(now);
    for (const hit of hits) {
      const algorithm = checkedAlgorithm(hit.algorithm, 'MemoryThrottleStore: RecordedHit.algorithm');
      if (algorithm !== 'sliding-log') {
        const entry = this.touchCounter(hit.key, algorithm, now);
        recordCounter(algorithm, entry, hit, now);
        entry.expiresAt = Math.max(entry.expiresAt, now + counterRetentionMs(algorithm, entry, hit.limit!, hit.windowMs, now));
        continue;
      }
      const entry = this.touchLog(hit.key, now);
      recordSlidingLog(entry, hit.windowMs, hit.ttlMs, now, hit.cost ?? 1);
      entry.keepPending();
    }
  }

  settle(settlements: readonly Settlement[]): void {
    const now = this.clock();
    this.sweep(now);
    for (const settlement of settlements) {
      const held = this.entries.get(settlement.key);
      if (held instanceof Entry && held.expiresAt > now) held.pending?.drop(settlement.reservation);
      if (!settlement.commit) continue;
      const entry = this.touchLog(settlement.key, now);
      recordSlidingLog(entry, settlement.windowMs, settlement.ttlMs, now);
      entry.keepPending();
    }
  }

  peek(key: string, windowMs: number, counting?: PeekCounting): WindowState & { readonly outcome?: AlgorithmOutcome } {
    const now = this.clock();
    const entry = this.entries.get(key);
    const algorithm = checkedAlgorithm(counting?.algorithm, 'MemoryThrottleStore: peek() algorithm');
    if (algorithm !== 'sliding-log') {
      // A key never counted, expired, or counted by another algorithm reads as fresh.
      const state = entry instanceof CounterEntry && entry.algorithm === algorithm && entry.expiresAt > now ? entry : FRESH_COUNTER;
      return peekCounter(algorithm, state, counting!, windowMs, now);
    }
    if (!(entry instanceof Entry) || entry.expiresAt <= now) return { count: 0, oldest: null, now };
    return readSlidingLog(entry, windowMs, now);
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

  /** The key's hit log, created if new (or if the key held a counter), cleared if expired, marked most recently used. */
  private touchLog(key: string, now: number): Entry {
    const entry = this.entries.get(key);
    if (entry instanceof Entry) return this.refresh(entry, now);
    if (entry !== undefined) this.remove(entry);
    return this.add(new Entry(key));
  }

  /** The key's counter for the algorithm, as touchLog() does; a key that held anything else starts afresh. */
  private touchCounter(key: string, algorithm: CounterAlgorithm, now: number): CounterEntry {
    const entry = this.entries.get(key);
    if (entry instanceof CounterEntry && entry.algorithm === algorithm) return this.refresh(entry, now);
    if (entry !== undefined) this.remove(entry);
    return this.add(new CounterEntry(key, algorithm));
  }

  private add<T extends Node>(entry: T): T {
    this.entries.set(entry.key, entry);
    this.link(entry);
    if (this.entries.size > this.maxKeys) {
      this.remove(this.oldest!);
      this.metrics?.memoryEviction(this.metricsLabel);
    }
    return entry;
  }

  private refresh<T extends Node>(entry: T, now: number): T {
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

  private remove(entry: Node): void {
    this.entries.delete(entry.key);
    this.unlink(entry);
  }

  /** Appends at the newest end. */
  private link(entry: Node): void {
    entry.older = this.newest;
    entry.newer = null;
    if (this.newest === null) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
  }

  /** Takes the entry out of the list, moving the sweep past it first. */
  private unlink(entry: Node): void {
    if (this.sweepCursor === entry) this.sweepCursor = entry.newer;
    if (entry.older === null) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === null) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = null;
    entry.newer = null;
  }
}
