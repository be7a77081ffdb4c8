import { performance } from 'node:perf_hooks';
import { describe, expect, test } from '@jest/globals';
import { DeadlineQueue, type ExpiryReason, HARD_BOUND_TIMEOUTS, type Waiter } from '../../lib/stores/deadline-queue.js';

// Real, short timers: the queue is about the event loop's phases, which a fake clock cannot model.

const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once `expired` holds `count` entries, or fails after `limitMs`. */
async function untilExpired(expired: unknown[], count: number, limitMs = 2_000): Promise<void> {
  const giveUp = performance.now() + limitMs;
  while (expired.length < count) {
    if (performance.now() > giveUp) throw new Error(`only ${expired.length} of ${count} waiters expired within ${limitMs} ms`);
    await sleep(1);
  }
}

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // The turn stays busy, as a burst of requests keeps it.
  }
}

describe('DeadlineQueue', () => {
  test('a call added later keeps its own deadline: it is not expired at the deadline of an earlier call', async () => {
    const queue = new DeadlineQueue(200);
    const expired: { name: string; at: number }[] = [];
    const firstAdded = performance.now();
    queue.add(() => expired.push({ name: 'first', at: performance.now() }));
    await sleep(150);
    const secondAdded = performance.now();
    queue.add(() => expired.push({ name: 'second', at: performance.now() }));

    await untilExpired(expired, 1);
    expect(expired.map((entry) => entry.name)).toEqual(['first']);
    expect(expired[0].at - firstAdded).toBeGreaterThanOrEqual(200);

    await untilExpired(expired, 2);
    expect(expired.map((entry) => entry.name)).toEqual(['first', 'second']);
    expect(expired[1].at - secondAdded).toBeGreaterThanOrEqual(200);
    queue.clear();
  });

  test('a waiter settled before its deadline never expires; an unsettled one expires exactly once, and is flagged settled', async () => {
    const queue = new DeadlineQueue(20);
    const expired: string[] = [];
    const answered = queue.add(() => expired.push('answered'));
    const silent = queue.add(() => expired.push('silent'));
    answered.settled = true;

    await untilExpired(expired, 1);
    await sleep(100); // five more timeouts: nothing else may expire
    expect(expired).toEqual(['silent']);
    // The flag is what makes a late answer be dropped instead of settling the call a second time.
    expect(silent.settled).toBe(true);
    queue.clear();
  });

  test('calls added in one turn share one deadline, measured from the end of that turn, not from each call', async () => {
    const queue = new DeadlineQueue(100);
    const expired: string[] = [];
    const expiredAt: number[] = [];
    const expire = (name: string) => () => {
      expired.push(name);
      expiredAt.push(performance.now());
    };
    const first = queue.add(expire('first'));
    busyWait(60);
    const second = queue.add(expire('second'));
    // Not stamped until the turn ends.
    expect(first.start).toBe(Infinity);
    const turnEnd = performance.now();

    await nextImmediate();
    expect(first.start).toBe(second.start);
    expect(first.start).toBeGreaterThanOrEqual(turnEnd);

    // The first call's time started when its turn ended, 60 ms after it was made: it expires no
    // earlier than 100 ms after that (measured when it expires, so a slow machine cannot fail this).
    await untilExpired(expired, 2);
    expect(expired).toEqual(['first', 'second']);
    for (const at of expiredAt) expect(at).toBeGreaterThanOrEqual(turnEnd + 100);
  });

  test('clear() stops everything: neither stamped nor unstamped calls expire', async () => {
    const queue = new DeadlineQueue(20);
    const expired: string[] = [];
    queue.add(() => expired.push('stamped'));
    await nextImmediate(); // stamped, timer armed
    queue.add(() => expired.push('unstamped'));
    queue.clear();
    await sleep(100);
    expect(expired).toEqual([]);
  });

  test('after clear() the queue starts afresh: a new call expires at its own deadline', async () => {
    const queue = new DeadlineQueue(20);
    const expired: string[] = [];
    queue.add(() => expired.push('before'));
    await nextImmediate();
    queue.clear();
    const added = performance.now();
    queue.add(() => expired.push('after'));
    await untilExpired(expired, 1);
    expect(expired).toEqual(['after']);
    expect(performance.now() - added).toBeGreaterThanOrEqual(20);
    queue.clear();
  });

  test('calls answered before their turn ended are passed over with the expired ones, and the queue keeps working (a crash once)', async () => {
    // With a store that answers within the turn that asked (ioredis writing each call at once, on
    // loopback), the expiry can run before that turn's stamp and pass over answered, unstamped
    // calls. Past 1,024 of them it compacts its array, and the stamp then read before its start.
    // The ordering depends on the timer firing in the same phase as the test's: a timer that fires
    // a fraction of a millisecond early (libuv's cached clock) re-arms once and misses it. Retried.
    let expiredBeforeStamp = false;
    let expired: string[] = [];
    for (let attempt = 0; attempt < 10 && !expiredBeforeStamp; attempt++) {
      const queue = new DeadlineQueue(20);
      const seen: string[] = [];
      let last: Waiter | undefined;
      queue.add(() => {
        seen.push('first');
        expiredBeforeStamp = last !== undefined && last.start === Infinity;
      });
      await nextImmediate(); // stamped, and the queue's timer armed for 20 ms
      // Due in the same timers phase as the queue's timer, just after it: the expiry it hands over to
      // runs before the stamp of what this adds.
      setTimeout(() => {
        for (let i = 0; i < 2_000; i++) queue.add(() => seen.push('answered')).settled = true;
        last = queue.add(() => seen.push('last'));
      }, 20);
      await untilExpired(seen, 2);
      expired = seen;
      queue.clear();
    }
    expect(expiredBeforeStamp).toBe(true);
    expect(expired).toEqual(['first', 'last']);
  });

  test("a call is not expired while the store keeps answering other calls: it waits up to the hard bound, then expires as 'overdue'", async () => {
    const queue = new DeadlineQueue(20);
    const reasons: ExpiryReason[] = [];
    const added = performance.now();
    queue.add((reason) => reasons.push(reason));
    // The store answers one of our other calls every 5 ms: a long queue, not a silent store.
    const answering = setInterval(() => queue.progress(), 5);
    await sleep(100); // five timeouts
    expect(reasons).toEqual([]);
    await untilExpired(reasons, 1);
    clearInterval(answering);
    expect(reasons).toEqual(['overdue']);
    expect(performance.now() - added).toBeGreaterThanOrEqual(20 * HARD_BOUND_TIMEOUTS);
    queue.clear();
  });

  test("a call the store left unanswered for the timeout, with no answer to any other call, expires as 'stalled'", async () => {
    const queue = new DeadlineQueue(20);
    const reasons: ExpiryReason[] = [];
    queue.progress();
    const added = performance.now();
    queue.add((reason) => reasons.push(reason));
    await untilExpired(reasons, 1);
    expect(reasons).toEqual(['stalled']);
    expect(performance.now() - added).toBeLessThan(20 * HARD_BOUND_TIMEOUTS);
    queue.clear();
  });
});
