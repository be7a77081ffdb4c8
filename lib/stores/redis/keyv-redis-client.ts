/** The Redis or Valkey client behind a cache, and the Keyv namespace the cache keeps its own entries in. */
export interface KeyvRedisClient {
  /** Resolves to the connected client. */
  readonly connect: () => Promise<unknown>;
  /** The Keyv instance's namespace (Keyv's default is 'keyv'), or undefined when it has none. */
  readonly namespace: string | undefined;
}

/**
 * Finds the Redis or Valkey client behind a cache-manager 7 cache, when one of its Keyv stores is
 * @keyv/redis (node-redis: `store.getClient()` connects and returns it; Cluster too) or
 * @keyv/valkey (iovalkey: `store.redis`); null when no store of the cache is backed by Redis.
 */
export function findKeyvRedisClient(cache: unknown): KeyvRedisClient | null {
  const stores = (cache as { stores?: unknown } | null)?.stores;
  if (!Array.isArray(stores)) return null;
  for (const keyv of stores) {
    const store = (keyv as { store?: unknown } | null)?.store as Record<string, unknown> | undefined;
    if (store === null || typeof store !== 'object') continue;
    const namespace = namespaceOf(keyv);
    // @keyv/redis: the client connects lazily; getClient() connects it (once) and returns it.
    if (typeof store.getClient === 'function' && 'client' in store) {
      return { connect: () => (store.getClient as () => Promise<unknown>).call(store), namespace };
    }
    // @keyv/valkey: an iovalkey client, which connects (and reconnects) by itself.
    const valkey = store.redis as { evalsha?: unknown } | undefined;
    if (valkey !== null && typeof valkey === 'object' && typeof valkey.evalsha === 'function') return { connect: () => Promise.resolve(valkey), namespace };
  }
  return null;
}

function namespaceOf(keyv: unknown): string | undefined {
  const namespace = (keyv as { namespace?: unknown }).namespace;
  return typeof namespace === 'string' && namespace.length > 0 ? namespace : undefined;
}
