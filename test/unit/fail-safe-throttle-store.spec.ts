import { describe, expect, test } from '@jest/globals';
import type { HitResult, ThrottleStore, WindowCheck } from '../../lib/core/store.js';
import { FailSafeThrottleStore, type StoreStateChange } from '../../lib/stores/fail-safe-throttle-store.js';
import { StoreUnavailableError } from '../../lib/stores/store-unavailable-error.js';
import { MemoryThrottleStore } from '../../lib/stores/memory-throttle-store.js';
import { ManualStore } from '../support/manual-store.js';

const CHECK: WindowCheck = { key: 'throttle_user_42', limit: 10, windowMs: 60_000, record: true };
const REMOTE: HitResult = { allowed: true, count: 7, oldest: 0, now: 0 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));

function failSafe(inner: ThrottleStore, retryIntervalMs: number) {
  const changes: StoreStateChange[] = [];
  const store = new FailSafeThrottleStore(inner, { onStoreError: 'local', timeoutMs: 30, retryIntervalMs, clock: () => 1_000, onStateChange: (change) => changes.push(change) });
  return { store, changes };
}

describe('FailSafeThrottleStore', () => {
  test('a reply that arrives after its timeout does not end the outage: the next request within the retry interval still gets the policy', async () => {
    const inner = new ManualStore();
    const { store, changes } = failSafe(inner, 60_000);

    const timedOut = await store.hit([CHECK]);
    // The local fallback counted it: its first hit, not the remote store's count.
    expect(timedOut).toEqual([expect.objectContaining({ allowed: true, count: 0 })]);
    expect(changes.map((change) => change.state)).toEqual(['down']);

    inner.calls[0].resolve([REMOTE]);
    await nextImmediate();
    expect(store.isDown).toBe(true);
    expect(changes.map((change) => change.state)).toEqual(['down']);

    const next = await store.hit([CHECK]);
    expect(inner.calls).toHaveLength(1);
    // Still the local store, counting on from the window the late reply showed (7 hits, plus its own).
    expect(next).toEqual([expect.objectContaining({ allowed: true, count: 8 + 1, now: 1_000 })]);
    await store.close();
  });

  test("under 'deny' the refusal says when the store is tried again: the next probe, in ms and as a Retry-After in whole seconds", async () => {
    const refusing: ThrottleStore = {
      hit: () => Promise.reject(new Error('connection refused')),
      record: () => undefined,
      peek: () => ({ count: 0, oldest: null, now: 0 }),
      reset: () => undefined,
    };
    const refusal = async (store: FailSafeThrottleStore) => {
      const error = await store.hit([CHECK]).then(() => null, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      return error as StoreUnavailableError;
    };
    const slow = new FailSafeThrottleStore(refusing, { onStoreError: 'deny', retryIntervalMs: 60_000 });
    const first = await refusal(slow);
    expect(first.retryAfterMs).toBeGreaterThan(55_000);
    expect(first.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(first.retryAfter).toBe(Math.ceil(first.retryAfterMs! / 1000));
    // Refused without a probe: the same probe time, a little nearer.
    await sleep(20);
    const second = await refusal(slow);
    expect(second.retryAfterMs).toBeLessThan(first.retryAfterMs!);
    expect(second.retryAfterMs).toBeGreaterThan(first.retryAfterMs! - 5_000);
    // Less than a second to go still says 1, never 0: the probe may find the store back.
    const quick = new FailSafeThrottleStore(refusing, { onStoreError: 'deny', retryIntervalMs: 200 });
    expect((await refusal(quick)).retryAfter).toBe(1);
    await Promise.all([slow.close(), quick.close()]);
  });

  test("an outage is reported once when it starts and once ('up') after the first probe that succeeds", async () => {
    const inner = new ManualStore();
    // A retry interval long enough that no stall of a loaded machine lets a probe in early.
    const { store, changes } = failSafe(inner, 250);
    const hit = () => {
      const answer = store.hit([CHECK]);
      return { answer, call: inner.calls.at(-1) };
    };

    const first = hit();
    first.call!.reject(new Error('ECONNRESET'));
    await first.answer;
    expect(changes).toEqual([{ state: 'down', error: new Error('ECONNRESET') }]);

    // Within the retry interval: the policy at once, the store is not asked.
    for (let i = 0; i < 3; i++) await store.hit([CHECK]);
    expect(inner.calls).toHaveLength(1);

    // A probe that fails keeps the outage going, without a second 'down'.
    await sleep(270);
    const failedProbe = hit();
    expect(inner.calls).toHaveLength(2);
    failedProbe.call!.reject(new Error('ECONNREFUSED'));
    await failedProbe.answer;
    expect(store.isDown).toBe(true);
    expect(changes.map((change) => change.state)).toEqual(['down']);

    await sleep(270);
    const probe = hit();
    expect(inner.calls).toHaveLength(3);
    probe.call!.resolve([REMOTE]);
    expect(await probe.answer).toEqual([REMOTE]);
    expect(store.isDown).toBe(false);
    expect(changes.map((change) => change.state)).toEqual(['down', 'up']);
    expect((changes[1] as { downForMs: number }).downForMs).toBeGreaterThanOrEqual(500);

    // Up again: every call goes to the store, and nothing more is reported.
    const after = hit();
    after.call!.resolve([REMOTE]);
    expect(await after.answer).toEqual([REMOTE]);
    expect(inner.calls).toHaveLength(4);
    expect(changes.map((change) => change.state)).toEqual(['down', 'up']);
    await store.close();
  });

  test("'local' counts on from the window this process last saw in the store: a key seen full admits nothing during the outage", async () => {
    const inner = new ManualStore();
    const { store } = failSafe(inner, 60_000);
    // The store's clock is its own (here 500 ms behind the local one): hits are carried over by age.
    const first = store.hit([CHECK]);
    inner.calls[0].resolve([{ allowed: false, count: 10, oldest: -59_000, now: 500 }]);
    expect((await first)[0].allowed).toBe(false);

    const failing = store.hit([CHECK]);
    inner.calls[1].reject(new Error('ECONNRESET'));
    expect(await failing).toEqual([expect.objectContaining({ allowed: false, count: 10, oldest: 1_000 - 59_500 })]);
    // Without the store's window, the local store would have started from zero and admitted 10.
    const during = await Promise.all(Array.from({ length: 10 }, () => store.hit([CHECK])));
    expect(during.filter(([result]) => result.allowed)).toEqual([]);
    await store.close();
  });

  test("'local' counts the calls sent to the store and not answered: they may be counted there", async () => {
    const inner = new ManualStore();
    const { store } = failSafe(inner, 60_000);
    // 15 calls in flight for a key at 10 per window; the store never answers them, but it may have
    // counted 10 of them already: none is admitted locally.
    const answers = await Promise.all(Array.from({ length: 15 }, () => store.hit([CHECK])));
    expect(answers.filter(([result]) => result.allowed)).toEqual([]);
    expect(store.isDown).toBe(true);
    await store.close();
  });
});

describe('FailSafeThrottleStore reservations', () => {
  const RESERVING: WindowCheck = { key: 'tastypie:login:alice_accesses', limit: 1, windowMs: 60_000, record: false, reserveMs: 30_000 };
  const settlement = (reservation: string, commit: boolean) => ({ key: RESERVING.key, reservation, commit, windowMs: RESERVING.windowMs });

  test('a reservation is settled where it was taken: the wrapped store while up, the local fallback while down', async () => {
    let down = false;
    const inner = new MemoryThrottleStore({ clock: () => 1_000 });
    const flaky: ThrottleStore = {
      hit: (checks) => (down ? Promise.reject(new Error('down')) : inner.hit(checks)),
      record: (hits) => inner.record(hits),
      settle: (settlements) => (down ? Promise.reject(new Error('down')) : inner.settle(settlements)),
      peek: (key, windowMs) => inner.peek(key, windowMs),
      reset: (key) => inner.reset(key),
    };
    const store = new FailSafeThrottleStore(flaky, { onStoreError: 'local', timeoutMs: 30, retryIntervalMs: 60_000, clock: () => 1_000 });
    const [remote] = await store.hit([RESERVING]);
    expect(remote.allowed).toBe(true);
    expect((await store.hit([RESERVING]))[0].allowed).toBe(false);
    await store.settle([settlement(remote.reservation!, true)]);
    expect(inner.peek(RESERVING.key, RESERVING.windowMs).count).toBe(1);

    down = true;
    const [local] = await store.hit([{ ...RESERVING, key: 'tastypie:login:bob_accesses' }]);
    expect(store.isDown).toBe(true);
    expect(local.allowed).toBe(true);
    expect((await store.hit([{ ...RESERVING, key: 'tastypie:login:bob_accesses' }]))[0].allowed).toBe(false);
    await store.settle([{ ...settlement(local.reservation!, false), key: 'tastypie:login:bob_accesses' }]);
    expect((await store.hit([{ ...RESERVING, key: 'tastypie:login:bob_accesses' }]))[0].allowed).toBe(true);
    await store.close();
  });

  test('a wrapped store without settle() never hands out a reservation, and a commit is then a record()', async () => {
    const recorded: string[] = [];
    const plain: ThrottleStore = {
      hit: (checks) => checks.map(() => ({ allowed: true, count: 0, oldest: null, now: 0 })),
      record: (hits) => void recorded.push(...hits.map((hit) => hit.key)),
      peek: () => ({ count: 0, oldest: null, now: 0 }),
      reset: () => undefined,
    };
    const store = new FailSafeThrottleStore(plain, { timeoutMs: 30 });
    const [result] = await store.hit([RESERVING]);
    expect(result.reservation).toBeUndefined();
    await store.close();
    expect(recorded).toEqual([]);
  });
});
