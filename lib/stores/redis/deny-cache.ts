import type { AlgorithmOutcome } from '../../core/algorithms/algorithm-outcome.js';
import { describeValue } from '../../core/describe-value.js';
import type { CountingAlgorithm, HitResult, WindowCheck } from '../../core/store.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';

/** `denyCache` of RedisThrottleStoreOptions: true, or the bound of the cache. */
export type DenyCacheOption = boolean | { readonly maxKeys?: number };

const DEFAULT_MAX_KEYS = 10_000;

/** One cached denial: the reply Redis gave, what it answered, and where the store's time stood against the local clock. */
interface Denial {
  /** What the check asked: a check asking anything else is not answered from this denial. */
  readonly algorithm: CountingAlgorithm;
  readonly limit: number;
  readonly windowMs: number;
  readonly cost: number;
  readonly burst: number | undefined;
  readonly blockMs: number;
  readonly count: number;
  readonly oldest: number | null;
  readonly blockingHit: number | null | undefined;
  readonly outcome: AlgorithmOutcome | undefined;
  /** Store time of Redis's answer: the outcome's durations count down from it. */
  readonly answeredAt: number;
  /** Store time minus local time when the check was sent: translates the local clock into store time. */
  readonly offset: number;
  /** Store time from which Redis would answer otherwise (see remember()). */
  readonly validUntil: number;
}

/**
 * Denials Redis just gave, answered again in-process while Redis's answer would be the same: a
 * client flooding over its limit costs no round trip per request. It only ever denies, and only
 * what Redis denied to a check asking the same (algorithm, limit, window, cost, burst, blockMs),
 * so it never admits more than Redis would: other processes can only add to a key meanwhile
 * (a denied check counts nothing), which keeps it denied.
 *
 * Which checks: counter-algorithm checks (recording or not: nothing lifts their counts early), and
 * sliding-log checks that record at once (DRF's). A sliding-log check that records nothing
 * (Tastypie's) is counted against pending slots and accesses recorded after the handler, which
 * settle and expire without this process seeing it, so its denial can lift before its window says;
 * and a reserving check is never cached.
 *
 * How long: until Redis's answer changes. A DRF check's count and oldest change when the oldest hit
 * leaves; an outcome's remaining changes at its resetMs (for a denial, at or before its waitMs: they
 * are equal for a check costing 1), while its resetMs and waitMs only count down, as Redis's would.
 * So every cached answer is the one Redis would give, if nobody else wrote to the key.
 *
 * A bounded LRU over a Map (re-inserted on use): at most `maxKeys` entries, the least recently used
 * dropped first.
 */
export class DenyCache {
  private readonly denials = new Map<string, Denial>();

  private constructor(private readonly maxKeys: number) {}

  /** The cache the option asks for, or null when it is off; throws naming a bad value. */
  static fromOption(option: unknown): DenyCache | null {
    if (option === undefined || option === false) return null;
    if (option === true) return new DenyCache(DEFAULT_MAX_KEYS);
    if (typeof option !== 'object' || option === null || Array.isArray(option)) {
      throw new ThrottleConfigError(`RedisThrottleStore: denyCache must be true, false or { maxKeys }, got ${describeValue(option)}`);
    }
    const maxKeys = (option as { maxKeys?: unknown }).maxKeys ?? DEFAULT_MAX_KEYS;
    if (typeof maxKeys !== 'number' || !Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new ThrottleConfigError(`RedisThrottleStore: denyCache.maxKeys must be a positive integer, got ${describeValue(maxKeys)}`);
    }
    return new DenyCache(maxKeys);
  }

  /** How many denials are held now (for tests and monitoring). */
  get size(): number {
    return this.denials.size;
  }

  /** True for the checks whose denials may be cached: no reservation, and a counter or a check that records at once. */
  static caches(check: WindowCheck): boolean {
    return check.reserveMs === undefined && (check.record || (check.algorithm !== undefined && check.algorithm !== 'sliding-log'));
  }

  /** The cached denial of this check at local time `localNow`, with `now` in store time; undefined when none holds. */
  answer(check: WindowCheck, localNow: number): HitResult | undefined {
    const denial = this.denials.get(check.key);
    if (denial === undefined) return undefined;
    const now = localNow + denial.offset;
    if (now >= denial.validUntil || !asksTheSame(denial, check)) {
      this.denials.delete(check.key);
      return undefined;
    }
    // Most recently used: to the end of the Map's order.
    this.denials.delete(check.key);
    this.denials.set(check.key, denial);
    const { count, oldest, blockingHit, outcome } = denial;
    const result: { -readonly [K in keyof HitResult]: HitResult[K] } = { allowed: false, count, oldest, now };
    if (blockingHit !== undefined) result.blockingHit = blockingHit;
    if (outcome !== undefined) {
      const elapsed = now - denial.answeredAt;
      result.outcome = { ...outcome, resetMs: outcome.resetMs - elapsed, waitMs: outcome.waitMs === null ? null : outcome.waitMs - elapsed };
    }
    return result;
  }

  /** Keeps a denial Redis gave to a check sent at local time `localSent`. */
  remember(check: WindowCheck, result: HitResult, localSent: number): void {
    const validUntil = validUntilOf(check, result);
    if (validUntil === null || result.now >= validUntil) return;
    this.denials.delete(check.key);
    this.denials.set(check.key, {
      algorithm: check.algorithm ?? 'sliding-log',
      limit: check.limit,
      windowMs: check.windowMs,
      cost: check.cost ?? 1,
      burst: check.burst,
      blockMs: check.blockMs ?? 0,
      count: result.count,
      oldest: result.oldest,
      blockingHit: result.blockingHit,
      outcome: result.outcome,
      answeredAt: result.now,
      offset: result.now - localSent,
      validUntil,
    });
    if (this.denials.size > this.maxKeys) this.denials.delete(this.denials.keys().next().value!);
  }

  forget(key: string): void {
    this.denials.delete(key);
  }
}

/**
 * Until when Redis would give this denial again (store time), or null when nothing bounds it. A
 * sliding log's count and oldest change when its oldest hit leaves (with more hits than the limit,
 * before a slot frees); an outcome's remaining changes at its resetMs.
 */
function validUntilOf(check: WindowCheck, result: HitResult): number | null {
  const leaves = result.oldest === null ? null : result.oldest + check.windowMs;
  if (result.outcome === undefined) return leaves;
  const changes = result.now + result.outcome.resetMs;
  return leaves === null ? changes : Math.min(leaves, changes);
}

function asksTheSame(denial: Denial, check: WindowCheck): boolean {
  return (
    denial.limit === check.limit &&
    denial.windowMs === check.windowMs &&
    denial.algorithm === (check.algorithm ?? 'sliding-log') &&
    denial.cost === (check.cost ?? 1) &&
    denial.burst === check.burst &&
    denial.blockMs === (check.blockMs ?? 0)
  );
}
