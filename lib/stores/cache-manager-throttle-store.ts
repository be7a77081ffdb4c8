import { type Clock, systemClock, validClock } from '../core/clock.js';
import { describeValue } from '../core/describe-value.js';
import { HitLog } from '../core/hit-log.js';
import { hitSlidingLog, readSlidingLog, recordSlidingLog } from '../core/sliding-log.js';
import type { HitResult, RecordedHit, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
import { KeyedLock } from './keyed-lock.js';
import { findKeyvRedisClient } from './redis/keyv-redis-client.js';
import { RedisThrottleStore } from './redis-throttle-store.js';

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
      const logs = await this.load(keys);
      const loadedSizes = new Map(keys.map((key) => [key, logs.get(key)!.size]));
      const now = this.clock();
      const results = checks.map((check) => hitSlidingLog(logs.get(check.key)!, check, now));
      await this.save(logs, checks, results, loadedSizes, now);
      return results;
    });
  }

  record(hits: readonly RecordedHit[]): Promise<void> {
    if (this.connect !== null) return this.atomic().then((redis) => redis.record(hits));
    const keys = uniqueKeys(hits.map((hit) => hit.key));
    return this.lock.run(keys, async () => {
      const logs = await this.load(keys);
      const now = this.clock();
      for (const hit of hits) recordSlidingLog(logs.get(hit.key)!, hit.windowMs, hit.ttlMs, now);
      await Promise.all(hits.map((hit) => this.write(hit.key, logs.get(hit.key)!, now)));
    });
  }

  async peek(key: string, windowMs: number): Promise<WindowState> {
    if (this.connect !== null) return (await this.atomic()).peek(key, windowMs);
    const times = await this.cache.get<number[]>(this.keyPrefix + key);
    return readSlidingLog(HitLog.from(Array.isArray(times) ? times : []), windowMs, this.clock());
  }

  async reset(key: string): Promise<void> {
    if (this.connect !== null) return (await this.atomic()).reset(key);
    await this.lock.run([key], () => this.cache.del(this.keyPrefix + key));
  }

  private async load(keys: readonly string[]): Promise<Map<string, HitLog>> {
    const stored = await Promise.all(keys.map((key) => this.cache.get<number[]>(this.keyPrefix + key)));
    const logs = new Map<string, HitLog>();
    keys.forEach((key, index) => {
      const times = stored[index];
      logs.set(key, HitLog.from(Array.isArray(times) ? times : []));
    });
    return logs;
  }

  /**
   * Writes back the logs that changed: those a check recorded into, and those a check pruned (as
   * Tastypie's should_be_throttled does, which also renews the key's expiration). A log pruned to
   * nothing is deleted.
   */
  private async save(logs: Map<string, HitLog>, checks: readonly WindowCheck[], results: readonly HitResult[], loadedSizes: Map<string, number>, now: number): Promise<void> {
    const recorded = new Set<string>();
    const retention = new Map<string, number>();
    checks.forEach((check, index) => {
      if (check.record && results[index].allowed) recorded.add(check.key);
      retention.set(check.key, Math.max(retention.get(check.key) ?? 0, check.windowMs, check.ttlMs ?? 0));
    });
    const writes: Promise<unknown>[] = [];
    for (const [key, log] of logs) {
      if (recorded.has(key)) {
        writes.push(this.write(key, log, now));
      } else if (log.size !== loadedSizes.get(key)) {
        if (log.size === 0) {
          writes.push(this.cache.del(this.keyPrefix + key));
        } else {
          log.expiresAt = now + retention.get(key)!;
          writes.push(this.write(key, log, now));
        }
      }
    }
    await Promise.all(writes);
  }

  private write(key: string, log: HitLog, now: number): Promise<unknown> {
    return this.cache.set(this.keyPrefix + key, log.toArray(), Math.max(1, log.expiresAt - now));
  }
}

function uniqueKeys(keys: string[]): string[] {
  return [...new Set(keys)];
}
