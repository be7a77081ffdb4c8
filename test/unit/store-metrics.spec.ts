import { describe, expect, test } from '@jest/globals';
import type { HitResult, ThrottleStore, WindowCheck } from '../../lib/core/store.js';
import type { MemoryStoreSource, ThrottlingMetrics } from '../../lib/metrics/throttling-metrics.js';
import { FailSafeThrottleStore } from '../../lib/stores/fail-safe-throttle-store.js';
import { MemoryThrottleStore } from '../../lib/stores/memory-throttle-store.js';
import { ManualStore } from '../support/manual-store.js';

const CHECK: WindowCheck = { key: 'throttle_user_42', limit: 10, windowMs: 60_000, record: true };
const REMOTE: HitResult = { allowed: true, count: 7, oldest: 0, now: 0 };
const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Writes down every report, in order. */
class RecordingMetrics implements ThrottlingMetrics {
  readonly events: unknown[][] = [];
  readonly sources = new Map<string, MemoryStoreSource>();
  decision(...args: unknown[]) { this.events.push(['decision', ...args]); }
  storeCall(store: string, operation: string, seconds: number, result: string) { this.events.push(['storeCall', store, operation, typeof seconds === 'number' && seconds >= 0, result]); }
  storeState(...args: unknown[]) { this.events.push(['storeState', ...args]); }
  storeFallback(...args: unknown[]) { this.events.push(['storeFallback', ...args]); }
  memoryEviction(...args: unknown[]) { this.events.push(['memoryEviction', ...args]); }
  observeMemoryStore(store: string, source: MemoryStoreSource) {
    this.sources.set(store, source);
    return () => this.sources.delete(store);
  }
  observeAccessLog() { return () => undefined; }
  close() {}
}

describe('stores reporting to metrics', () => {
  test('the fail-safe store reports each call with its result, the outage edges and the calls the policy answered', async () => {
    const inner = new ManualStore();
    const store = new FailSafeThrottleStore(inner, { onStoreError: 'local', timeoutMs: 30, retryIntervalMs: 1, clock: () => 1_000 });
    const metrics = new RecordingMetrics();
    store.reportTo(metrics, 'redis');

    const answered = store.hit([CHECK]);
    inner.calls[0].resolve([REMOTE]);
    await answered;
    // No answer within 30 ms: a timeout, the store down, the 'local' policy answers.
    await store.hit([CHECK]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const probe = store.hit([CHECK]);
    inner.calls[2].resolve([REMOTE]);
    await probe;
    expect(metrics.events).toEqual([
      ['storeState', 'redis', true],
      ['storeCall', 'redis', 'hit', true, 'ok'],
      ['storeCall', 'redis', 'hit', true, 'timeout'],
      ['storeState', 'redis', false],
      ['storeFallback', 'redis', 'local'],
      ['storeCall', 'redis', 'hit', true, 'ok'],
      ['storeState', 'redis', true],
    ]);
    // The 'local' fallback store reports its keys under its own label.
    expect(metrics.sources.get('local_fallback')?.size).toBe(1);
    await store.close();
  });

  test('a failing call is reported as an error', async () => {
    const inner = new ManualStore();
    const store = new FailSafeThrottleStore(inner, { onStoreError: 'allow', timeoutMs: 1_000 });
    const metrics = new RecordingMetrics();
    store.reportTo(metrics, 'custom');
    const failed = store.hit([CHECK]);
    inner.calls[0].reject(new Error('ECONNRESET'));
    await failed;
    await nextImmediate();
    expect(metrics.events.slice(1)).toEqual([
      ['storeCall', 'custom', 'hit', true, 'error'],
      ['storeState', 'custom', false],
      ['storeFallback', 'custom', 'allow'],
    ]);
    await store.close();
  });

  test('the memory store reports its keys and each eviction past maxKeys', () => {
    const store = new MemoryThrottleStore({ clock: () => 0, maxKeys: 2 });
    const metrics = new RecordingMetrics();
    store.reportTo(metrics, 'memory');
    for (const key of ['a', 'b', 'c', 'd']) store.hit([{ ...CHECK, key }]);
    expect(metrics.sources.get('memory')?.size).toBe(2);
    expect(metrics.events).toEqual([['memoryEviction', 'memory'], ['memoryEviction', 'memory']]);
  });
});
