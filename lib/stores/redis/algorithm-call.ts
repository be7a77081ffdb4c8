import type { AlgorithmOutcome } from '../../core/algorithms/algorithm-outcome.js';
import { checkedCost } from '../../core/algorithms/algorithm-outcome.js';
import { describeValue } from '../../core/describe-value.js';
import { COUNTING_ALGORITHMS, type CountingAlgorithm, type HitResult, type RecordedHit, type WindowCheck } from '../../core/store.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import type { RedisKeyNames } from './redis-key-names.js';

/**
 * The script calls of the algorithm modes (lib/stores/redis/algorithm-modes-lua.ts documents the
 * layout): which checks need them, their packed argument and keys, and the reply.
 */

/** 'a' each check alone, 'A' all or nothing, 'D' all or nothing writing nothing, 'B' known denied: blocks only. */
export type AlgorithmMode = 'a' | 'A' | 'D' | 'B';

/** Fields per check in the reply of the algorithm modes. */
const REPLY_FIELDS = 9;

const KIND: Readonly<Record<CountingAlgorithm, string>> = { 'sliding-log': 'l', 'fixed-window': 'f', 'sliding-window': 's', gcra: 'g' };

/**
 * True for a check that the DRF modes cannot serve: another algorithm, a cost, a block, or all or
 * nothing. A check without them keeps DRF's modes and their cost, as before these fields existed.
 */
export function usesAlgorithmMode(check: WindowCheck): boolean {
  return (
    (check.algorithm !== undefined && check.algorithm !== 'sliding-log') ||
    (check.cost !== undefined && check.cost !== 1) ||
    (check.blockMs !== undefined && check.blockMs > 0) ||
    check.allOrNothing === true
  );
}

/** A recorded hit that mode 'r' cannot serve: a counter, or more than one unit. */
export function usesCountedRecord(hit: RecordedHit): boolean {
  return (hit.algorithm !== undefined && hit.algorithm !== 'sliding-log') || (hit.cost !== undefined && hit.cost !== 1);
}

/** The key a check's call must be routed by: its sliding log, or its counter. */
export function primaryKey(names: RedisKeyNames, check: { readonly key: string; readonly algorithm?: CountingAlgorithm }): string {
  return names.keyOf(check.key, checkedAlgorithm(check.algorithm));
}

export interface PackedCall {
  readonly keys: string[];
  readonly packed: string;
}

/**
 * The keys and the argument of one call in an algorithm mode. `reservationId` names the pending
 * slot of a reserving check. Throws a ThrottleConfigError naming a bad algorithm, cost, burst or blockMs.
 */
export function packAlgorithmChecks(mode: AlgorithmMode, nowArg: string, checks: readonly WindowCheck[], names: RedisKeyNames, reservationId: () => string): PackedCall {
  // Pending slots are read by sliding-log checks only in a request with one that records later, as in DRF's 'v' mode.
  const readsPending = checks.some((check) => !check.record && (check.algorithm ?? 'sliding-log') === 'sliding-log');
  const keys: string[] = [];
  let packed = `${mode} ${nowArg}`;
  for (const check of checks) {
    const algorithm = checkedAlgorithm(check.algorithm);
    const cost = check.cost === undefined ? 1 : checkedCost(check.cost, `RedisThrottleStore: check of '${check.key}'`);
    const blockMs = checkedBlockMs(check);
    const limit = check.limit === Infinity ? '1e308' : String(check.limit);
    packed += ` ${KIND[algorithm]} ${limit} ${check.windowMs} ${cost} ${check.record ? 1 : 0} ${blockMs}`;
    const log = names.logKey(check.key);
    if (algorithm === 'sliding-log') {
      const pending = readsPending ? names.pendingKey(log) : null;
      const block = blockMs > 0 ? names.blockKey(log) : null;
      if (blockMs > 0 && block === null) {
        throw new ThrottleConfigError(`RedisThrottleStore: key '${check.key}' holds no block on a Cluster: a key without a DRF identity that contains '}' cannot share its block's slot; drop the '}' or the blockFor`);
      }
      keys.push(log, pending ?? log, block ?? log);
      const retention = check.ttlMs === undefined || check.ttlMs <= check.windowMs ? '=' : String(check.ttlMs);
      let reserve = '-';
      let id = '-';
      if (readsPending) {
        if (pending === null) reserve = 'x';
        else if (check.reserveMs !== undefined && !check.record) {
          reserve = String(Math.max(1, Math.ceil(check.reserveMs)));
          id = reservationId();
        } else reserve = '0';
      }
      packed += ` ${retention} ${reserve} ${id}`;
    } else {
      keys.push(names.counterKey(log, algorithm));
      if (algorithm === 'gcra') packed += ` ${checkedBurst(check.burst, check.limit, check.key)}`;
    }
  }
  return { keys, packed };
}

/** The keys and the argument of a counted record (mode 'c'). */
export function packCountedRecords(nowArg: string, hits: readonly RecordedHit[], names: RedisKeyNames): PackedCall {
  const keys: string[] = [];
  let packed = `c ${nowArg}`;
  for (const hit of hits) {
    const algorithm = checkedAlgorithm(hit.algorithm);
    const cost = hit.cost === undefined ? 1 : checkedCost(hit.cost, `RedisThrottleStore: record of '${hit.key}'`);
    const log = names.logKey(hit.key);
    if (algorithm === 'sliding-log') {
      keys.push(log);
      const retention = hit.ttlMs === undefined || hit.ttlMs <= hit.windowMs ? '=' : String(hit.ttlMs);
      packed += ` l 0 ${hit.windowMs} ${cost} ${retention}`;
      continue;
    }
    const limit = hit.limit;
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) {
      throw new ThrottleConfigError(`RedisThrottleStore: a ${algorithm} record of '${hit.key}' needs its limit (a positive number), got ${describeValue(limit)}`);
    }
    keys.push(names.counterKey(log, algorithm));
    packed += ` ${KIND[algorithm]} ${limit} ${hit.windowMs} ${cost} ${algorithm === 'gcra' ? checkedBurst(hit.burst, limit, hit.key) : '-'}`;
  }
  return { keys, packed };
}

/** The reply of a call in an algorithm mode: now, then nine fields per check. */
export function parseAlgorithmReply(reply: unknown, expected: number): HitResult[] {
  const fields = typeof reply === 'string' ? reply.split(' ') : null;
  if (fields === null || fields.length !== 1 + expected * REPLY_FIELDS) {
    throw new Error(`RedisThrottleStore: unexpected reply from the throttle script: ${JSON.stringify(reply)}`);
  }
  const now = Number(fields[0]);
  const results = new Array<HitResult>(expected);
  for (let i = 0; i < expected; i++) {
    const base = 1 + i * REPLY_FIELDS;
    const allowed = fields[base] === '1';
    const result: { -readonly [K in keyof HitResult]: HitResult[K] } = { allowed, count: Number(fields[base + 1]), oldest: timeOrNull(fields[base + 2]), now };
    if (fields[base + 3] !== '') result.blockingHit = Number(fields[base + 3]);
    if (fields[base + 4] !== '') result.outcome = outcomeOf(allowed, fields, base + 4);
    if (fields[base + 8] !== '') result.reservation = fields[base + 8];
    results[i] = result;
  }
  return results;
}

function outcomeOf(allowed: boolean, fields: readonly string[], at: number): AlgorithmOutcome {
  return { allowed, limit: Number(fields[at]), remaining: Number(fields[at + 1]), resetMs: Number(fields[at + 2]), waitMs: timeOrNull(fields[at + 3]) };
}

function timeOrNull(field: string): number | null {
  return field === '' ? null : Number(field);
}

function checkedAlgorithm(algorithm: unknown): CountingAlgorithm {
  if (algorithm === undefined) return 'sliding-log';
  if (COUNTING_ALGORITHMS.includes(algorithm as CountingAlgorithm)) return algorithm as CountingAlgorithm;
  throw new ThrottleConfigError(`RedisThrottleStore: algorithm must be one of ${COUNTING_ALGORITHMS.map((name) => `'${name}'`).join(', ')}, got ${describeValue(algorithm)}`);
}

function checkedBurst(burst: unknown, limit: number, key: string): number {
  if (burst === undefined) return limit;
  if (typeof burst === 'number' && Number.isSafeInteger(burst) && burst > 0) return burst;
  throw new ThrottleConfigError(`RedisThrottleStore: the burst of '${key}' must be a positive integer, got ${describeValue(burst)}`);
}

/** Whole ms (a block is counted in ms), 0 when none. */
function checkedBlockMs(check: WindowCheck): number {
  const blockMs = check.blockMs;
  if (blockMs === undefined) return 0;
  if (typeof blockMs === 'number' && Number.isFinite(blockMs) && blockMs >= 0) return Math.ceil(blockMs);
  throw new ThrottleConfigError(`RedisThrottleStore: the blockMs of '${check.key}' must be a non-negative number of ms, got ${describeValue(blockMs)}`);
}
