import { describeValue } from '../describe-value.js';
import type { CountingAlgorithm, HitResult, PeekCounting, RecordedHit, WindowCheck, WindowState } from '../store.js';
import { ThrottleConfigError } from '../throttle-config-error.js';
import { checkedCost, type AlgorithmOutcome } from './algorithm-outcome.js';
import { blockedOutcome, blockRetentionMs, hitWithBlock } from './block-for.js';
import { fixedWindowRetentionMs, fixedWindowUsed, hitFixedWindow, recordFixedWindow, type FixedWindowState } from './fixed-window.js';
import { gcraRetentionMs, gcraUsed, hitGcra, recordGcra, type GcraCheck, type GcraState } from './gcra.js';
import { hitSlidingWindow, recordSlidingWindow, slidingWindowEstimate, slidingWindowRetentionMs, type SlidingWindowState } from './sliding-window.js';

/** The algorithms that keep a constant-size counter per key (not the sliding log's hits). */
export type CounterAlgorithm = Exclude<CountingAlgorithm, 'sliding-log'>;

/**
 * A counter key's state under any of the three algorithms: each reads and writes its own fields
 * (and the block), so a store keeps one shape, and one scratch object serves every key.
 */
export interface CounterState extends FixedWindowState, SlidingWindowState, GcraState {}

export function newCounterState(): CounterState {
  return { windowStart: 0, used: 0, current: 0, previous: 0, tatMs: 0, tatFraction: 0, blockedUntil: 0 };
}

/** Back to a fresh key (a key checked with another algorithm than it held starts afresh). */
export function clearCounterState(state: CounterState): void {
  state.windowStart = state.used = state.current = state.previous = state.tatMs = state.tatFraction = state.blockedUntil = 0;
}

/** The algorithm a check counts with, refusing a name that is none (a store must not guess). */
export function checkedAlgorithm(algorithm: unknown, where: string): CountingAlgorithm {
  if (algorithm === undefined || algorithm === 'sliding-log') return 'sliding-log';
  if (algorithm === 'fixed-window' || algorithm === 'sliding-window' || algorithm === 'gcra') return algorithm;
  throw new ThrottleConfigError(`${where}: unknown algorithm ${describeValue(algorithm)} (one of 'sliding-log', 'sliding-window', 'gcra', 'fixed-window')`);
}

type Decide = (state: CounterState, check: GcraCheck, now: number, commit: boolean) => AlgorithmOutcome;

interface CounterCore {
  readonly hit: Decide;
  /** The same, never counting: record false answers only (its block still starts on a denial). */
  readonly answer: Decide;
  readonly record: (state: CounterState, check: GcraCheck, now: number) => void;
  /** Units in use at now, rounded up. */
  readonly used: (state: CounterState, check: GcraCheck, now: number) => number;
  readonly retentionMs: (state: CounterState, check: GcraCheck, now: number) => number;
}

const CORES: Readonly<Record<CounterAlgorithm, CounterCore>> = {
  'fixed-window': {
    hit: hitFixedWindow,
    answer: (state, check, now) => hitFixedWindow(state, check, now, false),
    record: recordFixedWindow,
    used: (state, check, now) => fixedWindowUsed(state, check.periodMs, now),
    retentionMs: fixedWindowRetentionMs,
  },
  'sliding-window': {
    hit: hitSlidingWindow,
    answer: (state, check, now) => hitSlidingWindow(state, check, now, false),
    record: recordSlidingWindow,
    used: (state, check, now) => Math.ceil(slidingWindowEstimate(state, now, check.periodMs)),
    retentionMs: slidingWindowRetentionMs,
  },
  gcra: {
    hit: hitGcra,
    answer: (state, check, now) => hitGcra(state, check, now, false),
    record: recordGcra,
    used: gcraUsed,
    retentionMs: (state, _check, now) => gcraRetentionMs(state, now),
  },
};

/**
 * The parameters of the check being decided: one object, filled anew for each (the cores are
 * synchronous), so a check allocates only its outcome and result.
 */
const params = { limit: 0, periodMs: 0, cost: 0, burst: 0 };

function paramsOf(limit: number, periodMs: number, cost: number, burst: number | undefined): GcraCheck {
  params.limit = limit;
  params.periodMs = periodMs;
  params.cost = cost;
  params.burst = burst ?? limit;
  return params;
}

/**
 * Decides a check on a counter key (WindowCheck's fields: cost, burst, blockMs, record false =
 * answer only), through the block rule when blockMs is set. The result's count is the units in use before the request
 * (rounded up), oldest is null (a counter keeps no hit times), and the outcome is the decision.
 * `commit` and `extraCost`: see lib/core/check-batch.ts.
 */
export function checkCounter(algorithm: CounterAlgorithm, state: CounterState, check: WindowCheck, now: number, commit: boolean, extraCost: number): HitResult {
  const core = CORES[algorithm];
  const cost = check.cost === undefined ? 1 : checkedCost(check.cost, 'WindowCheck.cost');
  const decided = paramsOf(check.limit, check.windowMs, cost + extraCost, check.burst);
  const count = core.used(state, decided, now);
  const decide = check.record ? core.hit : core.answer;
  const blockMs = check.blockMs ?? 0;
  // Without blockMs a check neither reads nor writes a block, as the Redis script does.
  const outcome = blockMs > 0 ? hitWithBlock(state, decided, now, blockMs, algorithm === 'gcra' ? decided.burst : decided.limit, decide, commit) : decide(state, decided, now, commit);
  return { allowed: outcome.allowed, count, oldest: null, now, outcome };
}

/** Counts a record's units whatever the limit (RecordedHit: bytes sent), blocks aside. */
export function recordCounter(algorithm: CounterAlgorithm, state: CounterState, hit: RecordedHit, now: number): void {
  const cost = hit.cost === undefined ? 1 : checkedCost(hit.cost, 'RecordedHit.cost');
  if (typeof hit.limit !== 'number' || !(hit.limit > 0)) {
    throw new ThrottleConfigError(`RecordedHit.limit: a record on a ${algorithm} key needs the check's limit (a positive number), got ${describeValue(hit.limit)}`);
  }
  CORES[algorithm].record(state, paramsOf(hit.limit, hit.windowMs, cost, hit.burst), now);
}

/**
 * What peek() reports of a counter key: the units in use now (rounded up), no oldest, and what a
 * check costing 1 would answer (refused while a block runs).
 */
export function peekCounter(algorithm: CounterAlgorithm, state: CounterState, counting: PeekCounting, windowMs: number, now: number): WindowState & { readonly outcome: AlgorithmOutcome } {
  const core = CORES[algorithm];
  const asked = paramsOf(counting.limit, windowMs, 1, counting.burst);
  const count = core.used(state, asked, now);
  const reportedLimit = algorithm === 'gcra' ? asked.burst : asked.limit;
  const outcome = blockedOutcome(state, now, reportedLimit) ?? core.answer(state, asked, now, false);
  return { count, oldest: null, now, outcome };
}

/**
 * Ms a counter key must be kept after a write at `now` (its window, its TAT, its block): past
 * that it reads as a fresh key. For a store that keeps a ttl per key.
 */
export function counterRetentionMs(algorithm: CounterAlgorithm, state: CounterState, limit: number, windowMs: number, now: number): number {
  const kept = CORES[algorithm].retentionMs(state, paramsOf(limit, windowMs, 1, undefined), now);
  return Math.max(1, kept, blockRetentionMs(state, now));
}
