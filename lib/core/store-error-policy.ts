/**
 * What to do while the store fails or is too slow:
 * - 'local': count in this process (an in-memory store) until it is back, on from the last window this
 *   process saw in the store for the key: limits keep working, per instance;
 * - 'allow': let every request through, unthrottled;
 * - 'deny': refuse every throttled request (the Nest layer answers 503 Service Unavailable).
 */
export type StoreErrorPolicy = 'allow' | 'deny' | 'local';
export const STORE_ERROR_POLICIES: readonly StoreErrorPolicy[] = ['allow', 'deny', 'local'];
