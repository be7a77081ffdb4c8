import { randomBytes } from 'node:crypto';
import { type Clock, systemClock, validClock } from '../core/clock.js';
import { describeValue } from '../core/describe-value.js';
import { HitLog } from '../core/hit-log.js';
import { PendingSlots } from '../core/pending-slots.js';
import { hitBatch } from '../core/check-batch.js';
import type { AlgorithmOutcome, BlockableState } from '../core/algorithms/algorithm-outcome.js';
import { checkCounter, checkedAlgorithm, type CounterAlgorithm, type CounterState, counterRetentionMs, newCounterState, peekCounter, recordCounter } from '../core/algorithms/counter-check.js';
import { hitSlidingLog, hitSlidingLogInUnits, readSlidingLog, recordSlidingLog } from '../core/sliding-log.js';
import type { HitResult, PeekCounting, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
import { COUNTER_KEY_SUFFIX, decodeCounterState, encodeCounterState } from './cached-counter-state.js';
import { KeyedLock } from './keyed-lock.js';
import { findKeyvRedisClient } from './redis/keyv-redis-client.js';
import { RedisThrottleStore } from './redis/redis-throttle-store.js';

/** The part of a cache-manager 7 `Cache` this store uses (ttl in milliseconds). */
export interface CacheLike {
  get<T>(key: string): Promise<T | undefined | null>;
  set<T>(key: string, value: T, ttl?: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

export interface CacheManagerThrottleStoreOptions {
  readonly clock?: Clock;
  /**
   * Prepended to every key, to keep throttle keys apart from the app's own cache entries. On a
   * Redis or Valkey cache the keys also start with the cache's Keyv namespace and ':'
   * (`<namespace>:<keyPrefix><key>`), as the cache's own entries do, so apps that share a Redis
   * under different namespaces never share a bucket.
   */
  readonly keyPrefix?: string;
}

/**
 * A key's entry in the cache: its hit times, or, while reservations are pending on it or a block
 * (blockMs) runs, the times with the slots as [id, expiry, ...] and the block's end (a plain array
 * stays the format of keys without either: every key of DRF's plain checks).
 */
type StoredBucket = number[] | { readonly t: number[]; readonly p?: (string | number)[]; readonly b?: number };

/** One key as loaded: its log, its pending slots, its block, and what was loaded, to know whether to write. */
interface Bucket {
  readonly log: HitLog;
  readonly pending: PendingSlots;
  readonly block: BlockableState;
  readonly loadedHits: number;
  readonly loadedPending: number;
  readonly loadedBlock: number;
}

/**
 * A counter algorithm's key as loaded (its own cache entry, see cached-counter-state.ts), with what
 * was loaded and until when a commit needs it kept.
 */
interface CounterBucket {
  readonly algorithm: CounterAlgorithm;
  readonly state: CounterState;
  /** The state as loaded, encoded: a state a call left as it was (a fresh key answered) is not written. */
  readonly loaded: string;
  expiresAt: number;
}

/** Whether a check needs more than DRF's plain path: another algorithm, a cost, a block, all or nothing. */
function isPlain(check: WindowCheck): boolean {
  return check.algorithm === undefined && check.cost === undefined && check.blockMs === undefined && check.allOrNothing === undefined;
}

/**
 * Keeps hit logs in the application's cache-manager cache (@nestjs/cache-manager's CACHE_MANAGER,
 * any Keyv store), as arrays of times with a TTL of the window.
 *
 * The counter algorithms keep one short string per key and algorithm (`<key>:fw`, `:sw`, `:gc`,
 * with the TTL of counterRetentionMs), beside the key's log, which also holds a sliding log's block:
 * the layout of the Redis store (and of its atomic path below), so a key switched to another
 * algorithm starts afresh, and one switched back finds its state, on either path alike.
 *
 * Checks on the same key are serialized within this process, so one process never over-admits.
 * Across processes it is NOT atomic: two instances may read the same log, both admit, and one write
 * wins (as with DRF's and Tastypie's cache throttles). Use RedisThrottleStore when the app runs on
 * several processes or machines.
 *
 * Except when the cache keeps its entries in Redis or Valkey (a Keyv store from @keyv/redis or
 * @keyv/valkey): then every call goes through that store's client to RedisThrottleStore's script,
 * atomic across processes and in one round trip, with the server's time (unless a clock other than
 * the system's was given, e.g. a test's).
 */
export class CacheManagerThrottleStore implements ThrottleStore {
  /** Lets ThrottlingModule create it from `store: CacheManagerThrottleStore` with the app's cache. */
  static readonly inject = ['CACHE_MANAGER'] as const;

  private readonly clock: Clock;
  private readonly keyPrefix: string;
  private readonly lock = new KeyedLock();
  /** Resolves to the cache's Redis / Valkey client (connected), or null when the cache has none. */
  private readonly connect: (() => Promise<unknown>) | null;
  /** The key prefix of the atomic path: the cache's Keyv namespace, then keyPrefix. */
  private readonly atomicKeyPrefix: string;
  private readonly atomicClock: Clock | undefined;
  private atomicStore: RedisThrottleStore | undefined;
  private atomicClient: unknown;
  /** Reservation ids: unique per process (a random part) and per reservation (a counter). */
  private readonly reservationPrefix = randomBytes(6).toString('base64url');
  private reservations = 0;

  constructor(
    private readonly cache: CacheLike,
    options: CacheManagerThrottleStoreOptions = {},
  ) {
    if (cache === null || typeof cache !== 'object' || typeof cache.get !== 'function' || typeof cache.set !== 'function') {
      throw new TypeError(`CacheManagerThrottleStore needs a cache-manager cache (with get/set/del), got ${describeValue(cache)}`);
    }
    this.clock = options.clock === undefined ? systemClock : validClock(options.clock, 'CacheManagerThrottleStore: clock');
    this.keyPrefix = options.keyPrefix ?? '';
    const redis = findKeyvRedisClient(cache);
    this.connect = redis?.connect ?? null;
    // get/set go through Keyv, which adds its namespace itself; the atomic path bypasses Keyv.
    this.atomicKeyPrefix = redis?.namespace === undefined ? this.keyPrefix : `${redis.namespace}:${this.keyPrefix}`;
    this.atomicClock = options.clock === undefined || options.clock === systemClock ? undefined : options.clock;
  }

  /** Whether calls go atomically through the cache's Redis / Valkey client. */
  get isAtomic(): boolean {
    return this.connect !== null;
  }

  /** The Redis store over the cache's client; asked each time, so a reconnected client is picked up. */
  private async atomic(): Promise<RedisThrottleStore> {
    const client = await this.connect!();
    if (this.atomicStore === undefined || client !== this.atomicClient) {
      this.atomicStore = new RedisThrottleStore(client, { keyPrefix: this.atomicKeyPrefix, clock: this.atomicClock });
      this.atomicClient = client;
    }
    return this.atomicStore;
  }

  hit(checks: readonly WindowCheck[]): Promise<HitResult[]> {
    if (this.connect !== null) return this.atomic().then((redis) => redis.hit(checks));
    for (let i = 0; i < checks.length; i++) if (!isPlain(checks[i])) return this.hitInUnits(checks);
    const keys = uniqueKeys(checks.map((check) => check.key));
    return this.lock.run(keys, async () => {
      const buckets = await this.load(keys);
      const now = this.clock();
      const results = checks.map((check) => {
        const { log, pending } = buckets.get(check.key)!;
        const reservation = check.reserveMs !== undefined && !check.record ? `${this.reservationPrefix}${++this.reservations}` : undefined;
        return hitSlidingLog(log, check, now, pending, reservation);
      });
      const recorded = new Set<string>();
      checks.forEach((check, index) => {
        if (check.record && results[index].allowed) recorded.add(check.key);
      });
      await this.save(buckets, recorded, retentionByKey(checks), now);
      return results;
    });
  }

  /**
   * A call that is not DRF's plain one: every algorithm, cost, blockMs and all or nothing, by the
   * rule of lib/core/check-batch.ts, on the entries of every key of the call, locked together.
   */
  private hitInUnits(checks: readonly WindowCheck[]): Promise<HitResult[]> {
    const keys = uniqueKeys(checks.map((check) => check.key));
    return this.lock.run(keys, async () => {
      const { buckets, counters } = await this.loadEntries(checks, 'CacheManagerThrottleStore: WindowCheck.algorithm');
      const now = this.clock();
      const recorded = new Set<string>();
      const results = hitBatch(checks, (check, commit, extraCost) => {
        const algorithm = checkedAlgorithm(check.algorithm, 'CacheManagerThrottleStore: WindowCheck.algorithm');
        if (algorithm !== 'sliding-log') {
          const counter = counters.get(this.counterKey(check.key, algorithm))!;
          const result = checkCounter(algorithm, counter.state, check, now, commit, extraCost);
          if (commit) counter.expiresAt = Math.max(counter.expiresAt, now + counterRetentionMs(algorithm, counter.state, check.limit, check.windowMs, now));
          return result;
        }
        const { log, pending, block } = buckets.get(check.key)!;
        const reservation = commit && check.reserveMs !== undefined && !check.record ? `${this.reservationPrefix}${++this.reservations}` : undefined;
        const result = hitSlidingLogInUnits(log, check, now, block, commit, extraCost, pending, reservation);
        if (commit && result.allowed && (check.record || result.reservation !== undefined)) recorded.add(check.key);
        return result;
      });
      await Promise.all([this.save(buckets, recorded, retentionByKey(checks.filter((check) => (check.algorithm ?? 'sliding-log') === 'sliding-log')), now), this.saveCounters(counters, now)]);
      return results;
    });
  }

  record(hits: readonly RecordedHit[]): Promise<void> {
    if (this.connect !== null) return this.atomic().then((redis) => redis.record(hits));
    return this.recordLocked(hits.map((hit) => ({ ...hit, reservation: undefined })));
  }

  settle(settlements: readonly Settlement[]): Promise<void> {
    if (this.connect !== null) return this.atomic().then((redis) => redis.settle(settlements));
    return this.recordLocked(settlements.map((settlement) => ({ key: settlement.key, windowMs: settlement.windowMs, ttlMs: settlement.ttlMs, reservation: settlement.reservation, commit: settlement.commit })));
  }

  /**
   * Records hits (units on a counter: counted past the limit) and drops reservations, under the
   * keys' lock: record() and settle() in one place.
   */
  private recordLocked(writes: readonly (RecordedHit & { readonly reservation: string | undefined; readonly commit?: boolean })[]): Promise<void> {
    const keys = uniqueKeys(writes.map((write) => write.key));
    return this.lock.run(keys, async () => {
      const { buckets, counters } = await this.loadEntries(writes, 'CacheManagerThrottleStore: RecordedHit.algorithm');
      const now = this.clock();
      for (const write of writes) {
        const algorithm = checkedAlgorithm(write.algorithm, 'CacheManagerThrottleStore: RecordedHit.algorithm');
        if (algorithm !== 'sliding-log') {
          const counter = counters.get(this.counterKey(write.key, algorithm))!;
          recordCounter(algorithm, counter.state, write, now);
          counter.expiresAt = Math.max(counter.expiresAt, now + counterRetentionMs(algorithm, counter.state, write.limit!, write.windowMs, now));
          continue;
        }
        const { log, pending } = buckets.get(write.key)!;
        if (write.reservation !== undefined) pending.drop(write.reservation);
        if (write.commit === false) {
          log.expiresAt = Math.max(log.expiresAt, now + Math.max(write.windowMs, write.ttlMs ?? 0));
          continue;
        }
        recordSlidingLog(log, write.windowMs, write.ttlMs, now, write.cost ?? 1);
      }
      await Promise.all([...[...buckets].map(([key, bucket]) => this.write(key, bucket, now)), this.saveCounters(counters, now)]);
    });
  }

  async peek(key: string, windowMs: number, counting?: PeekCounting): Promise<WindowState & { readonly outcome?: AlgorithmOutcome }> {
    if (this.connect !== null) return (await this.atomic()).peek(key, windowMs, counting);
    const algorithm = checkedAlgorithm(counting?.algorithm, 'CacheManagerThrottleStore: peek() algorithm');
    if (algorithm !== 'sliding-log') {
      const value = await this.cache.get<string>(this.counterKey(key, algorithm));
      return peekCounter(algorithm, decodeCounterState(algorithm, value, newCounterState()), counting!, windowMs, this.clock());
    }
    const value = await this.cache.get<StoredBucket>(this.keyPrefix + key);
    const times = Array.isArray(value) ? value : Array.isArray(value?.t) ? value.t : [];
    return readSlidingLog(HitLog.from(times), windowMs, this.clock());
  }

  async reset(key: string): Promise<void> {
    if (this.connect !== null) return (await this.atomic()).reset(key);
    await this.lock.run([key], () =>
      Promise.all([this.cache.del(this.keyPrefix + key), this.cache.del(this.counterKey(key, 'fixed-window')), this.cache.del(this.counterKey(key, 'sliding-window')), this.cache.del(this.counterKey(key, 'gcra'))]),
    );
  }

  /** The cache key of a key's counter under an algorithm, beside its log's. */
  private counterKey(key: string, algorithm: CounterAlgorithm): string {
    return this.keyPrefix + key + COUNTER_KEY_SUFFIX[algorithm];
  }

  /** The entries the items name: each key's log for its sliding-log items, its counters for the others (refusing an unknown algorithm). */
  private async loadEntries(items: readonly { readonly key: string; readonly algorithm?: unknown }[], where: string): Promise<{ buckets: Map<string, Bucket>; counters: Map<string, CounterBucket> }> {
    const logKeys: string[] = [];
    const counterKeys = new Map<string, CounterAlgorithm>();
    for (const item of items) {
      const algorithm = checkedAlgorithm(item.algorithm, where);
      if (algorithm === 'sliding-log') logKeys.push(item.key);
      else counterKeys.set(this.counterKey(item.key, algorithm), algorithm);
    }
    const [buckets, counters] = await Promise.all([this.load(uniqueKeys(logKeys)), this.loadCounters(counterKeys)]);
    return { buckets, counters };
  }

  private async loadCounters(keys: ReadonlyMap<string, CounterAlgorithm>): Promise<Map<string, CounterBucket>> {
    const counters = new Map<string, CounterBucket>();
    if (keys.size === 0) return counters;
    const names = [...keys.keys()];
    const stored = await Promise.all(names.map((name) => this.cache.get<string>(name)));
    names.forEach((name, index) => {
      const algorithm = keys.get(name)!;
      const state = decodeCounterState(algorithm, stored[index], newCounterState());
      counters.set(name, { algorithm, state, loaded: encodeCounterState(algorithm, state), expiresAt: 0 });
    });
    return counters;
  }

  /** Writes back the counters that changed (a denial counts nothing; a block does), kept as long as their state matters. */
  private async saveCounters(counters: ReadonlyMap<string, CounterBucket>, now: number): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (const [name, counter] of counters) {
      const value = encodeCounterState(counter.algorithm, counter.state);
      if (value !== counter.loaded && counter.expiresAt > now) writes.push(this.cache.set(name, value, counter.expiresAt - now));
    }
    await Promise.all(writes);
  }

  private async load(keys: readonly string[]): Promise<Map<string, Bucket>> {
    const stored = await Promise.all(keys.map((key) => this.cache.get<StoredBucket>(this.keyPrefix + key)));
    const buckets = new Map<string, Bucket>();
    keys.forEach((key, index) => {
      const value = stored[index];
      const times = Array.isArray(value) ? value : Array.isArray(value?.t) ? value.t : [];
      const entry = value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
      const pending = Array.isArray(entry?.p) ? PendingSlots.from(entry.p) : new PendingSlots();
      const blockedUntil = typeof entry?.b === 'number' ? entry.b : 0;
      const log = HitLog.from(times);
      buckets.set(key, { log, pending, block: { blockedUntil }, loadedHits: log.size, loadedPending: pending.size, loadedBlock: blockedUntil });
    });
    return buckets;
  }

  /**
   * Writes back the logs that changed: those a check recorded into or reserved on (`recorded`), and
   * those a check pruned (hits or expired reservations; as Tastypie's should_be_throttled does, which
   * also renews the key's expiration) or blocked. A log pruned to nothing (and unblocked) is deleted.
   */
  private async save(buckets: Map<string, Bucket>, recorded: ReadonlySet<string>, retention: ReadonlyMap<string, number>, now: number): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (const [key, bucket] of buckets) {
      const { log, pending, block } = bucket;
      if (recorded.has(key)) {
        writes.push(this.write(key, bucket, now));
      } else if (log.size !== bucket.loadedHits || pending.size !== bucket.loadedPending || block.blockedUntil !== bucket.loadedBlock) {
        if (log.size === 0 && pending.size === 0 && block.blockedUntil <= now) {
          writes.push(this.cache.del(this.keyPrefix + key));
        } else {
          log.expiresAt = now + retention.get(key)!;
          writes.push(this.write(key, bucket, now));
        }
      }
    }
    await Promise.all(writes);
  }

  private write(key: string, { log, pending, block }: Bucket, now: number): Promise<unknown> {
    const blocked = block.blockedUntil > now;
    if (log.size === 0 && pending.size === 0 && !blocked) return this.cache.del(this.keyPrefix + key);
    const value: StoredBucket = blocked ? { t: log.toArray(), ...(pending.size === 0 ? {} : { p: pending.toArray() }), b: block.blockedUntil } : pending.size === 0 ? log.toArray() : { t: log.toArray(), p: pending.toArray() };
    return this.cache.set(this.keyPrefix + key, value, Math.max(1, log.expiresAt - now, pending.latestExpiry - now, block.blockedUntil - now));
  }
}

function uniqueKeys(keys: string[]): string[] {
  return [...new Set(keys)];
}

/** How long each key's log is kept after a check that pruned it: its longest window or ttl. */
function retentionByKey(checks: readonly WindowCheck[]): Map<string, number> {
  const retention = new Map<string, number>();
  for (const check of checks) retention.set(check.key, Math.max(retention.get(check.key) ?? 0, check.windowMs, check.ttlMs ?? 0));
  return retention;
}
