import { type Clock, systemClock, validClock } from '../core/clock.js';
import { describeValue } from '../core/describe-value.js';
import { HitLog } from '../core/hit-log.js';
import { PendingSlots } from '../core/pending-slots.js';
import { hitBatch } from '../core/check-batch.js';
import { type AlgorithmOutcome, type BlockableState } from '../core/algorithms/algorithm-outcome.js';
import { blockRetentionMs } from '../core/algorithms/block-for.js';
import { checkCounter, checkedAlgorithm, type CounterState, newCounterState, peekCounter, recordCounter } from '../core/algorithms/counter-check.js';
import { hitSlidingLog, hitSlidingLogInUnits, readSlidingLog, recordSlidingLog } from '../core/sliding-log.js';
import type { HitResult, PeekCounting, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
import type { ThrottlingMetrics } from '../metrics/throttling-metrics.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import { counterIdle, loadCounter, ROW_KIND, storeCounter } from './memory/counter-rows.js';
import { flatKey } from './memory/flat-key.js';
import { type CounterRowKind, KeyRows, type RecencyNode } from './memory/key-rows.js';

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
const FRESH_COUNTER: CounterState = Object.freeze(newCounterState());

/** How many entries each operation inspects for expiry: enough to outpace new keys, small enough to be free. */
const SWEEP_STEPS_PER_OPERATION = 2;

/**
 * One key's sliding log. The entry is the log itself, not an object that points at one: a check
 * then reads one object fewer, often from a cold cache line, and a key costs one object header less.
 * It is linked into the recency list itself (lib/stores/memory/key-rows.ts).
 */
class Entry extends HitLog implements BlockableState {
  older: RecencyNode<Entry> | null = null;
  newer: RecencyNode<Entry> | null = null;
  slot = 0;
  /** Reservations held on the key (created by the first reserving check). */
  pending: PendingSlots | null = null;
  /** Until when a blockFor refuses the key (ms); only checks with blockMs read or write it. */
  blockedUntil = 0;
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

/** Whether a check needs more than DRF's plain path: another algorithm, a cost, a block, all or nothing. */
function isPlain(check: WindowCheck): boolean {
  return check.algorithm === undefined && check.cost === undefined && check.blockMs === undefined && check.allOrNothing === undefined;
}

/**
 * The embedded store: counts live in this process.
 *
 * - A Map from the key finds its sliding log's entry, or its counter's row number (a small
 *   integer, stored unboxed): a counter key (fixed-window, sliding-window, gcra) is a row of typed
 *   arrays (lib/stores/memory/key-rows.ts), about 110 B an idle key with its string and its Map
 *   entry, whatever the limit.
 * - No timer per key or per hit: expiry is checked when a key is touched, and an incremental sweep
 *   inspects a couple of keys per operation, so reclaiming never pauses for all keys at once.
 * - One doubly linked list through every key's row, whatever its kind, keeps them in
 *   least-recently-used order (a touched key is relinked at the newest end, with no allocation),
 *   so eviction past `maxKeys` drops the oldest key in O(1).
 * - A counter check decodes its row into one scratch state, runs the core, and writes it back:
 *   nothing is allocated per key. Blocks (blockMs) are rare: a side Map from row to its end.
 * - Every operation is synchronous, so checks on one key are atomic within the process.
 */
export class MemoryThrottleStore implements ThrottleStore {
  /** A key's sliding-log entry, or its counter row. */
  private readonly entries = new Map<string, Entry | number>();
  private rows: KeyRows<Entry>;
  /** Counter rows refused until a time (ms): their blocks. */
  private readonly blocks = new Map<number, number>();
  /** The counter state a check decides on, decoded from its row and written back (the cores are synchronous). */
  private readonly scratch = newCounterState();
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
    this.rows = new KeyRows(maxKeys);
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
      const kind = ROW_KIND[algorithm];
      const row = this.touchCounter(check.key, kind);
      const result = checkCounter(algorithm, this.load(row, kind, check.windowMs), check, now, commit, extraCost);
      if (commit) this.save(row, kind, check.windowMs, now);
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
        const kind = ROW_KIND[algorithm];
        const row = this.touchCounter(hit.key, kind);
        recordCounter(algorithm, this.load(row, kind, hit.windowMs), hit, now);
        this.save(row, kind, hit.windowMs, now);
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
      if (typeof held === 'object' && held.expiresAt > now) held.pending?.drop(settlement.reservation);
      if (!settlement.commit) continue;
      const entry = this.touchLog(settlement.key, now);
      recordSlidingLog(entry, settlement.windowMs, settlement.ttlMs, now);
      entry.keepPending();
    }
  }

  peek(key: string, windowMs: number, counting?: PeekCounting): WindowState & { readonly outcome?: AlgorithmOutcome } {
    const now = this.clock();
    const held = this.entries.get(key);
    const algorithm = checkedAlgorithm(counting?.algorithm, 'MemoryThrottleStore: peek() algorithm');
    if (algorithm !== 'sliding-log') {
      // A key never counted or counted by another algorithm reads as fresh (an idle row reads so too).
      const kind = ROW_KIND[algorithm];
      const state = typeof held === 'number' && this.rows.kind[held] === kind ? this.load(held, kind, windowMs) : FRESH_COUNTER;
      return peekCounter(algorithm, state, counting!, windowMs, now);
    }
    if (typeof held !== 'object' || held.expiresAt <= now) return { count: 0, oldest: null, now };
    return readSlidingLog(held, windowMs, now);
  }

  reset(key: string): void {
    const held = this.entries.get(key);
    if (held !== undefined) this.remove(held);
  }

  /** Reports the number of keys at each scrape and each eviction to the metrics, under `label`. */
  reportTo(metrics: ThrottlingMetrics, label: string): void {
    this.metrics = metrics;
    this.metricsLabel = label;
    metrics.observeMemoryStore(label, this);
  }

  close(): void {
    this.entries.clear();
    this.blocks.clear();
    // New columns at their first size: a closed store gives its memory back.
    this.rows = new KeyRows(this.maxKeys);
  }

  /** The key's hit log, created if new (or if the key held a counter), cleared if expired, marked most recently used. */
  private touchLog(key: string, now: number): Entry {
    const held = this.entries.get(key);
    if (typeof held === 'object') {
      if (held.expiresAt <= now) held.clear();
      this.rows.touch(held);
      return held;
    }
    if (held !== undefined) this.remove(held);
    this.makeRoom();
    const entry = new Entry(flatKey(key));
    this.rows.addLog(entry);
    this.entries.set(entry.key, entry);
    return entry;
  }

  /** The key's counter row of that kind, marked most recently used; a key that held anything else starts afresh. */
  private touchCounter(key: string, kind: CounterRowKind): number {
    const held = this.entries.get(key);
    if (typeof held === 'number') {
      if (this.rows.kind[held] !== kind) {
        this.rows.restartCounter(held, kind);
        if (this.blocks.size > 0) this.blocks.delete(held);
      }
      this.rows.touch(held);
      return held;
    }
    if (held !== undefined) this.remove(held);
    this.makeRoom();
    const flat = flatKey(key);
    const row = this.rows.addCounter(kind, flat);
    this.entries.set(flat, row);
    return row;
  }

  /** The row's state (and block) in the scratch state, for a check of that period. */
  private load(row: number, kind: CounterRowKind, periodMs: number): CounterState {
    const state = this.scratch;
    loadCounter(this.rows, row, kind, periodMs, state);
    state.blockedUntil = this.blocks.size === 0 ? 0 : (this.blocks.get(row) ?? 0);
    return state;
  }

  /** Writes the scratch state back into the row, its block into the side map. */
  private save(row: number, kind: CounterRowKind, periodMs: number, now: number): void {
    const state = this.scratch;
    storeCounter(this.rows, row, kind, periodMs, state);
    if (state.blockedUntil > now) this.blocks.set(row, state.blockedUntil);
    else if (this.blocks.size > 0) this.blocks.delete(row);
  }

  /** Evicts the least recently used key when one more would pass maxKeys (before adding, so a table never outgrows it). */
  private makeRoom(): void {
    if (this.entries.size < this.maxKeys) return;
    this.remove(this.rows.oldest!);
    this.metrics?.memoryEviction(this.metricsLabel);
  }

  /** Whether a key may be forgotten: its counts read 0 and no block runs, or its log expired. */
  private expired(node: RecencyNode<Entry>, now: number): boolean {
    if (typeof node === 'object') return node.expiresAt <= now;
    const row = node;
    return counterIdle(this.rows, row, now) && (this.blocks.size === 0 || !((this.blocks.get(row) ?? 0) > now));
  }

  /** Inspects the next few keys from the least recently used end and drops the expired ones. */
  private sweep(now: number): void {
    if (this.entries.size === 0) return;
    for (let step = 0; step < SWEEP_STEPS_PER_OPERATION; step++) {
      const node = this.rows.nextToSweep();
      if (this.expired(node, now)) this.remove(node);
      // Reaching the newest end ends this pass; the next operation starts over at the oldest.
      if (this.rows.sweepPassEnded) return;
    }
  }

  private remove(node: RecencyNode<Entry>): void {
    this.entries.delete(this.rows.keyOf(node));
    if (typeof node === 'number' && this.blocks.size > 0) this.blocks.delete(node);
    this.rows.release(node);
  }
}
