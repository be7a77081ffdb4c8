import type { CountingAlgorithm, PeekCounting, RecordedHit, ThrottleStore, WindowState } from '../../core/store.js';
import { describeValue } from '../../core/describe-value.js';
import { SimpleRateThrottle } from '../../throttles/simple-rate-throttle.js';
import { CacheThrottle } from '../../throttles/tastypie/cache-throttle.js';
import { TastypieThrottleAdapter } from '../../throttles/tastypie/tastypie-throttle-adapter.js';
import type { Throttle, ThrottleContext } from '../../throttles/throttle.js';

/**
 * Support staff's view of the store (ThrottlingService.buckets / grant / penalize), built only on the
 * store contract's peek, record and reset: the buckets listed are those of the throttles the routes
 * were planned with, so the work is bounded by the throttles in use, never by the clients.
 */

/** Where one throttle counts a target: the store key, and the window it is read with. */
export interface Bucket {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
  /** How long a recorded hit keeps the key (Tastypie's expiration); the window when absent. */
  readonly ttlMs?: number;
  /** How a counter algorithm's key is read and written; absent for a sliding log. */
  readonly counting?: PeekCounting;
}

/** A bucket's counts as read: what peek() and buckets() report beside the key. */
export interface BucketReading extends WindowState {
  /** What `remaining` counts down from: the rate's limit (gcra: its burst). */
  readonly limit: number;
  /** Units that could be taken now (requests left in the window). */
  readonly remaining: number;
  /** Milliseconds until `remaining` next grows (the oldest hit leaves, a unit is earned back); 0 when nothing is used. */
  readonly resetsInMs: number;
  /** The counter algorithm of the key; absent for a sliding log (DRF's, Tastypie's). */
  readonly algorithm?: CountingAlgorithm;
}

/** One bucket of a target, as buckets() lists it. */
export interface ThrottleBucketState extends WindowState {
  /** The throttle's class name (a Tastypie throttle's own, not its adapter's). */
  readonly throttle: string;
  /** The scope the bucket counts under (the RateLimit policy name); null for a Tastypie throttle without one. */
  readonly scope: string | null;
  readonly key: string;
  /** What `remaining` counts down from: the rate's limit (gcra: its burst). */
  readonly limit: number;
  readonly windowMs: number;
  /** Requests (units) left in the window. */
  readonly remaining: number;
  /** Milliseconds until the oldest hit leaves the window and frees a slot (a counter: until `remaining` grows); 0 when the window is empty. */
  readonly resetsInMs: number;
  /** The counter algorithm of the key; absent for a sliding log. */
  readonly algorithm?: CountingAlgorithm;
}

/** The bucket a throttle keeps for a context, null when it does not count it (AnonThrottle and a user), undefined when it keeps none in the store. */
export function bucketOfThrottle(throttle: Throttle, ctx: ThrottleContext): Bucket | null | undefined {
  if (throttle instanceof SimpleRateThrottle) return throttle.planBucket(ctx);
  if (throttle instanceof TastypieThrottleAdapter && throttle.inner instanceof CacheThrottle) {
    const inner = throttle.inner;
    return { key: inner.cacheKey(throttle.identifierFor(ctx)), limit: inner.throttleAt, windowMs: inner.timeframe * 1000, ttlMs: inner.expiration * 1000 };
  }
  return undefined;
}

/** A bucket's state as peek() reads it: a counter's from the store's outcome (what a request costing 1 would be told). */
export async function readBucket(store: ThrottleStore, bucket: Bucket): Promise<BucketReading> {
  const { counting } = bucket;
  if (counting === undefined) {
    const state = await store.peek(bucket.key, bucket.windowMs);
    const resetsInMs = state.oldest === null ? 0 : Math.max(0, state.oldest + bucket.windowMs - state.now);
    return { ...state, limit: bucket.limit, remaining: Math.max(0, bucket.limit - state.count), resetsInMs };
  }
  const { count, oldest, now, outcome } = await store.peek(bucket.key, bucket.windowMs, counting);
  const limit = outcome?.limit ?? capacityOf(counting);
  // The outcome is a request costing 1's: admitted, it would have taken one of the units left.
  const remaining = outcome === undefined ? Math.max(0, limit - count) : outcome.remaining + (outcome.allowed ? 1 : 0);
  return { count, oldest, now, limit, remaining, resetsInMs: outcome?.resetMs ?? 0, algorithm: counting.algorithm };
}

/** What a counter's `remaining` counts down from when the store does not say: gcra's burst, else the limit. */
function capacityOf(counting: PeekCounting): number {
  return counting.algorithm === 'gcra' ? (counting.burst ?? counting.limit) : counting.limit;
}

/**
 * Every bucket a target has among the throttles in use (see ThrottleRegistry.throttleUses), each once (two routes, or two
 * throttles with the same key, share it), in plan order. `contextFor(scope)` is the target's context
 * on a route of that scope; `onlyScope` keeps the buckets counted under that scope.
 */
export async function listBuckets(
  plans: Iterable<{ readonly throttles: readonly Throttle[]; readonly scope: string | undefined }>,
  contextFor: (routeScope: string | undefined) => ThrottleContext,
  store: ThrottleStore,
  onlyScope?: string,
): Promise<ThrottleBucketState[]> {
  const seenUses = new Map<Throttle, Set<string | undefined>>();
  const found = new Map<string, { throttle: Throttle; scope: string | null; bucket: Bucket }>();
  const contexts = new Map<string | undefined, ThrottleContext>();
  for (const plan of plans) {
    for (const throttle of plan.throttles) {
      let scopes = seenUses.get(throttle);
      if (scopes === undefined) seenUses.set(throttle, (scopes = new Set()));
      if (scopes.has(plan.scope)) continue;
      scopes.add(plan.scope);
      let ctx = contexts.get(plan.scope);
      if (ctx === undefined) contexts.set(plan.scope, (ctx = contextFor(plan.scope)));
      const bucket = bucketOfThrottle(throttle, ctx);
      if (bucket == null || found.has(bucket.key)) continue;
      const scope = policyOf(throttle, ctx);
      if (onlyScope !== undefined && scope !== onlyScope) continue;
      found.set(bucket.key, { throttle, scope, bucket });
    }
  }
  return Promise.all(
    [...found.values()].map(async ({ throttle, scope, bucket }) => {
      const { limit, ...state } = await readBucket(store, bucket);
      return { throttle: throttleName(throttle), scope, key: bucket.key, limit, windowMs: bucket.windowMs, ...state };
    }),
  );
}

/**
 * Records `requests` hits now on a bucket, as if the target had made that many more requests; by
 * default as many as fill the window to the limit. More than the limit would change no decision (hits
 * recorded together leave the window together), so at most `limit` are recorded. A counter algorithm
 * records them as units in one record() (gcra: up to its burst, as many as it would admit at once).
 */
export async function penalizeBucket(store: ThrottleStore, bucket: Bucket, requests: number | undefined, where: string): Promise<void> {
  if (requests !== undefined && (typeof requests !== 'number' || !Number.isInteger(requests) || requests < 1)) {
    throw new TypeError(`${where}: requests must be a whole number of at least 1, got ${describeValue(requests)}`);
  }
  if (bucket.counting !== undefined) return penalizeCounter(store, bucket, bucket.counting, requests);
  const count = requests === undefined ? bucket.limit - (await store.peek(bucket.key, bucket.windowMs)).count : Math.min(requests, bucket.limit);
  if (count <= 0) return;
  const hit = bucket.ttlMs === undefined ? { key: bucket.key, windowMs: bucket.windowMs } : { key: bucket.key, windowMs: bucket.windowMs, ttlMs: bucket.ttlMs };
  await store.record(Array.from({ length: count }, () => hit));
}

async function penalizeCounter(store: ThrottleStore, bucket: Bucket, counting: PeekCounting, requests: number | undefined): Promise<void> {
  const capacity = capacityOf(counting);
  const units = requests === undefined ? (await readBucket(store, bucket)).remaining : Math.min(requests, capacity);
  if (units <= 0) return;
  const hit: RecordedHit = { key: bucket.key, windowMs: bucket.windowMs, algorithm: counting.algorithm, limit: counting.limit, cost: units };
  await store.record([counting.burst === undefined ? hit : { ...hit, burst: counting.burst }]);
}

function policyOf(throttle: Throttle, ctx: ThrottleContext): string | null {
  if (throttle instanceof SimpleRateThrottle) return throttle.scopeFor(ctx) ?? null;
  if (throttle instanceof TastypieThrottleAdapter) return (throttle.inner as { scope?: string }).scope ?? null;
  return null;
}

function throttleName(throttle: Throttle): string {
  return (throttle instanceof TastypieThrottleAdapter ? throttle.inner : throttle).constructor.name;
}
