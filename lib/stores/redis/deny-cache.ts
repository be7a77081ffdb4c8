import { describeValue } from '../../core/describe-value.js';
import type { HitResult, WindowCheck } from '../../core/store.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';

/** `denyCache` of RedisThrottleStoreOptions: true, or the bound of the cache. */
export type DenyCacheOption = boolean | { readonly maxKeys?: number };

const DEFAULT_MAX_KEYS = 10_000;

/** One cached denial: the reply Redis gave, and where the store's time stood against the local clock. */
interface Denial {
  readonly limit: number;
  readonly windowMs: number;
  readonly count: number;
  readonly oldest: number;
  readonly blockingHit: number | null | undefined;
  /** Store time minus local time when the check was sent: translates the local clock into store time. */
  readonly offset: number;
  /**
   * Store time at which the oldest hit leaves the window: the window's count and oldest change then
   * (with more hits than the limit, before a slot frees), so the entry is stale from then on.
   */
  readonly freesAt: number;
}

/**
 * Denials Redis just gave, answered again in-process until the slot frees: a client flooding over
 * its limit costs no round trip per request. It only ever denies, and only what Redis denied with
 * the same limit and window, so it never admits more than Redis would. Only DRF's checks (record,
 * no reservation) are cached: a check that records nothing (Tastypie's) is counted against pending
 * slots and accesses recorded after the handler, which settle and expire without this process
 * seeing it, so its denial can lift before its window says.
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

  /** True for the checks whose denials may be cached: DRF's, which record at once and reserve nothing. */
  static caches(check: WindowCheck): boolean {
    return check.record && check.reserveMs === undefined;
  }

  /** The cached denial of this check at local time `localNow`, with `now` in store time; undefined when none holds. */
  answer(check: WindowCheck, localNow: number): HitResult | undefined {
    const denial = this.denials.get(check.key);
    if (denial === undefined) return undefined;
    const now = localNow + denial.offset;
    if (now >= denial.freesAt || denial.limit !== check.limit || denial.windowMs !== check.windowMs) {
      this.denials.delete(check.key);
      return undefined;
    }
    // Most recently used: to the end of the Map's order.
    this.denials.delete(check.key);
    this.denials.set(check.key, denial);
    const { count, oldest, blockingHit } = denial;
    return blockingHit === undefined ? { allowed: false, count, oldest, now } : { allowed: false, count, oldest, now, blockingHit };
  }

  /** Keeps a denial Redis gave to a check sent at local time `localSent`. */
  remember(check: WindowCheck, result: HitResult, localSent: number): void {
    // A denial with an empty window (limit 0) frees no slot: nothing to expire it by.
    if (result.oldest === null) return;
    // The oldest's leaving, not the blocking hit's: until then the cached count and oldest are Redis's.
    const freesAt = result.oldest + check.windowMs;
    if (result.now >= freesAt) return;
    this.denials.delete(check.key);
    this.denials.set(check.key, {
      limit: check.limit,
      windowMs: check.windowMs,
      count: result.count,
      oldest: result.oldest,
      blockingHit: result.blockingHit,
      offset: result.now - localSent,
      freesAt,
    });
    if (this.denials.size > this.maxKeys) this.denials.delete(this.denials.keys().next().value!);
  }

  forget(key: string): void {
    this.denials.delete(key);
  }
}
