import type { AlgorithmOutcome, BlockableState } from '../../../lib/core/algorithms/algorithm-outcome.js';
import { checkCounter, newCounterState, peekCounter, recordCounter, type CounterAlgorithm, type CounterState } from '../../../lib/core/algorithms/counter-check.js';
import { hitBatch } from '../../../lib/core/check-batch.js';
import { HitLog } from '../../../lib/core/hit-log.js';
import { hitSlidingLogInUnits, readSlidingLog, recordSlidingLog } from '../../../lib/core/sliding-log.js';
import type { CountingAlgorithm, HitResult, PeekCounting, RecordedHit, WindowCheck, WindowState } from '../../../lib/core/store.js';

/**
 * The TypeScript cores (lib/core) behind the store contract, in memory and on an explicit clock: the
 * oracle RedisThrottleStore is checked against, call for call. One state per key and algorithm, as
 * Redis keeps them (a key's sliding log, its block, and one counter per algorithm); no expiry (the
 * scenarios stay within the keys' retention, or read stale state as fresh, as the cores do).
 */
export class ReferenceStore {
  private readonly logs = new Map<string, HitLog>();
  private readonly blocks = new Map<string, BlockableState>();
  private readonly counters = new Map<string, CounterState>();

  hit(checks: readonly WindowCheck[], now: number): HitResult[] {
    return hitBatch(checks, (check, commit, extraCost) => {
      const algorithm = check.algorithm ?? 'sliding-log';
      if (algorithm === 'sliding-log') return hitSlidingLogInUnits(this.log(check.key), check, now, this.block(check.key), commit, extraCost);
      return checkCounter(algorithm, this.counter(check.key, algorithm), check, now, commit, extraCost);
    });
  }

  record(hits: readonly RecordedHit[], now: number): void {
    for (const hit of hits) {
      const algorithm = hit.algorithm ?? 'sliding-log';
      if (algorithm === 'sliding-log') recordSlidingLog(this.log(hit.key), hit.windowMs, hit.ttlMs, now, hit.cost ?? 1);
      else recordCounter(algorithm, this.counter(hit.key, algorithm), hit, now);
    }
  }

  peek(key: string, windowMs: number, now: number, counting?: PeekCounting): WindowState & { readonly outcome?: AlgorithmOutcome } {
    if (counting === undefined || counting.algorithm === 'sliding-log') return readSlidingLog(this.log(key), windowMs, now);
    return peekCounter(counting.algorithm, this.counter(key, counting.algorithm), counting, windowMs, now);
  }

  reset(key: string): void {
    for (const map of [this.logs, this.blocks, this.counters] as Map<string, unknown>[]) {
      for (const name of [...map.keys()]) if (name === key || name.startsWith(`${key}\0`)) map.delete(name);
    }
  }

  private log(key: string): HitLog {
    let log = this.logs.get(key);
    if (log === undefined) this.logs.set(key, (log = new HitLog()));
    return log;
  }

  private block(key: string): BlockableState {
    let block = this.blocks.get(key);
    if (block === undefined) this.blocks.set(key, (block = { blockedUntil: 0 }));
    return block;
  }

  private counter(key: string, algorithm: Exclude<CountingAlgorithm, 'sliding-log'> & CounterAlgorithm): CounterState {
    const name = `${key}\0${algorithm}`;
    let state = this.counters.get(name);
    if (state === undefined) this.counters.set(name, (state = newCounterState()));
    return state;
  }
}
