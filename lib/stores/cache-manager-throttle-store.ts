import { randomBytes } from 'node:crypto';
import { type Clock, systemClock, validClock } from '../core/clock.js';
import { describeValue } from '../core/describe-value.js';
import { HitLog } from '../core/hit-log.js';
import { PendingSlots } from '../core/pending-slots.js';
import { hitSlidingLog, readSlidingLog, recordSlidingLog } from '../core/sliding-log.js';
import type { HitResult, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
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
 * A key's entry in the cache: its hit times, or, while reservations are pending on it, the times
 * and the slots as [id, expiry, ...] (a plain array stays the format of keys without reservations).
 */
type StoredBucket = number[] | { readonly t: number[]; readonly p: (string | number)[] };

/** One key as loaded: its log, its pending slots, and what was loaded, to know whether to write. */
interface Bucket {
  readonly log: HitLog;
  readonly pending: PendingSlots;
  readonly loadedHits: number;
  readonly loadedPending: number;
}

/**
 * Keeps hit logs in the application's cache-manager cache (@nestjs/cache-manager's CACHE_MANAGER,
 * any Keyv store), as arrays of times with a TTL of the window.
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
    const keys = uniqueKeys(checks.map((check) => check.key));
    return this.lock.run(keys, async () => {
      const buckets = await this.load(keys);
      const now = this.clock();
      const results = checks.map((check) => {
        const { log, pending } = buckets.get(check.key)!;
        const reservation = check.reserveMs !== undefined && !check.record ? `${this.reservationPrefix}${++this.reservations}` : undefined;
        return hitSlidingLog(log, check, now, pending, reservation);
      });
      await this.save(buckets, checks, results, now);
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

  /** Records hits and drops reservations, under the keys' lock: record() and settle() in one place. */
  private recordLocked(writes: readonly (RecordedHit & { readonly reservation: string | undefined; readonly commit?: boolean })[]): Promise<void> {
    const keys = uniqueKeys(writes.map((write) => write.key));
    return this.lock.run(keys, async () => {
      const buckets = await this.load(keys);
      const now = this.clock();
      for (const write of writes) {
        const { log, pending } = buckets.get(write.key)!;
        if (write.reservation !== undefined) pending.drop(write.reservation);
        if (write.commit === false) {
          log.expiresAt = Math.max(log.expiresAt, now + Math.max(write.windowMs, write.ttlMs ?? 0));
          continue;
        }
        recordSlidingLog(log, write.windowMs, write.ttlMs, now);
      }
      await Promise.all(keys.map((key) => this.write(key, buckets.get(key)!, now)));
    });
  }

  async peek(key: string, windowMs: number): Promise<WindowState> {
    if (this.connect !== null) return (await this.atomic()).peek(key, windowMs);
    const value = await this.cache.get<StoredBucket>(this.keyPrefix + key);
    const times = Array.isArray(value) ? value : Array.isArray(value?.t) ? value.t : [];
    return readSlidingLog(HitLog.from(times), windowMs, this.clock());
  }

  async reset(key: string): Promise<void> {
    if (this.connect !== null) return (await this.atomic()).reset(key);
    await this.lock.run([key], () => this.cache.del(this.keyPrefix + key));
  }

  private async load(keys: readonly string[]): Promise<Map<string, Bucket>> {
    const stored = await Promise.all(keys.map((key) => this.cache.get<StoredBucket>(this.keyPrefix + key)));
    const buckets = new Map<string, Bucket>();
    keys.forEach((key, index) => {
      const value = stored[index];
      const times = Array.isArray(value) ? value : Array.isArray(value?.t) ? value.t : [];
      const pending = value !== null && typeof value === 'object' && !Array.isArray(value) && Array.isArray(value.p) ? PendingSlots.from(value.p) : new PendingSlots();
      const log = HitLog.from(times);
      buckets.set(key, { log, pending, loadedHits: log.size, loadedPending: pending.size });
    });
    return buckets;
  }

  /**
   * Writes back the logs that changed: those a check recorded into or reserved on, and those a check
   * pruned (hits or expired reservations; as Tastypie's should_be_throttled does, which also renews
   * the key's expiration). A log pruned to nothing is deleted.
   */
  private async save(buckets: Map<string, Bucket>, checks: readonly WindowCheck[], results: readonly HitResult[], now: number): Promise<void> {
    const recorded = new Set<string>();
    const retention = new Map<string, number>();
    checks.forEach((check, index) => {
      if (check.record && results[index].allowed) recorded.add(check.key);
      retention.set(check.key, Math.max(retention.get(check.key) ?? 0, check.windowMs, check.ttlMs ?? 0));
    });
    const writes: Promise<unknown>[] = [];
    for (const [key, bucket] of buckets) {
      const { log, pending } = bucket;
      if (recorded.has(key)) {
        writes.push(this.write(key, bucket, now));
      } else if (log.size !== bucket.loadedHits || pending.size !== bucket.loadedPending) {
        if (log.size === 0 && pending.size === 0) {
          writes.push(this.cache.del(this.keyPrefix + key));
        } else {
          log.expiresAt = now + retention.get(key)!;
          writes.push(this.write(key, bucket, now));
        }
      }
    }
    await Promise.all(writes);
  }

  private write(key: string, { log, pending }: Bucket, now: number): Promise<unknown> {
    if (log.size === 0 && pending.size === 0) return this.cache.del(this.keyPrefix + key);
    const value: StoredBucket = pending.size === 0 ? log.toArray() : { t: log.toArray(), p: pending.toArray() };
    return this.cache.set(this.keyPrefix + key, value, Math.max(1, log.expiresAt - now, pending.latestExpiry - now));
  }
}

function uniqueKeys(keys: string[]): string[] {
  return [...new Set(keys)];
}
