/**
 * Finds the Redis or Valkey client behind a cache-manager 7 cache, when one of its Keyv stores is
 * @keyv/redis (node-redis: `store.getClient()` connects and returns it; Cluster too) or
 * @keyv/valkey (iovalkey: `store.redis`). Returns a function that resolves to the connected client,
 * or null when no store of the cache is backed by Redis.
 */
export function findKeyvRedisClient(cache: unknown): (() => Promise<unknown>) | null {
  const stores = (cache as { stores?: unknown } | null)?.stores;
  if (!Array.isArray(stores)) return null;
  for (const keyv of stores) {
    const store = (keyv as { store?: unknown } | null)?.store as Record<string, unknown> | undefined;
    if (store === null || typeof store !== 'object') continue;
    // @keyv/redis: the client connects lazily; getClient() connects it (once) and returns it.
    if (typeof store.getClient === 'function' && 'client' in store) {
      return () => (store.getClient as () => Promise<unknown>).call(store);
    }
    // @keyv/valkey: an iovalkey client, which connects (and reconnects) by itself.
    const valkey = store.redis as { evalsha?: unknown } | undefined;
    if (valkey !== null && typeof valkey === 'object' && typeof valkey.evalsha === 'function') return () => Promise.resolve(valkey);
  }
  return null;
}
