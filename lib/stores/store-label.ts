import type { ThrottleStore } from '../core/store.js';
import { CacheManagerThrottleStore } from './cache-manager-throttle-store.js';
import { MemoryThrottleStore } from './memory-throttle-store.js';
import { RedisThrottleStore } from './redis/redis-throttle-store.js';

/** The store label of the in-memory store a FailSafeThrottleStore counts in while its store is down. */
export const LOCAL_FALLBACK_STORE_LABEL = 'local_fallback';

/**
 * The `store` label of a store: its kind, never its address or key prefix (those belong in the
 * scrape target's labels). Any other store class is 'custom'. A FailSafeThrottleStore labels
 * itself by the store it wraps (`storeLabel(this.inner)`): this file does not import it, so that
 * it can import this one.
 */
export function storeLabel(store: ThrottleStore): string {
  // cache-manager's store runs Redis itself when it finds a Redis client: checked before Redis's.
  if (store instanceof CacheManagerThrottleStore) return 'cache_manager';
  if (store instanceof RedisThrottleStore) return 'redis';
  if (store instanceof MemoryThrottleStore) return 'memory';
  return 'custom';
}
