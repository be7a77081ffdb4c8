import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { FailSafeThrottleStore, RedisThrottleStore, StoreUnavailableError, type StoreErrorPolicy, type StoreStateChange, type WindowCheck } from '../../lib/index.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { RedisServerProcess } from './support/redis-server-process.js';

// Faults are injected into a redis-server of this suite's own, never into the shared one.
const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;

const TIMEOUT_MS = 250;
/** The 'local' fallback runs on this clock, so a result tells whether Redis or the fallback answered. */
const LOCAL_EPOCH = 42;
/** Slack on top of the timeout for the event loop and the child process (the bound is not a benchmark). */
const SLACK_MS = 400;

type Outcome = { kind: 'redis' | 'local' | 'allow-fallback' | 'denied-503' | 'other-error'; ms: number };

suite('RedisThrottleStore when its server stops answering (SIGSTOP) or dies (kill)', () => {
  let server: RedisServerProcess;
  let client: Redis;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });
  afterEach(() => {
    client?.disconnect();
    // The server is healthy again before the next test.
    server.resume();
  });
  afterAll(async () => {
    await server.stop();
  });

  /** One request's checks: a limit Redis will not reach in these tests, and a tight one for 'local'. */
  const checks = (id: string): WindowCheck[] => [
    { key: `throttle_loose_${id}`, limit: 1_000_000, windowMs: 60_000, record: true },
    { key: `throttle_tight_${id}`, limit: 5, windowMs: 60_000, record: false },
  ];

  const setUp = async (policy: StoreErrorPolicy) => {
    // The app's client, as an app would configure it: reconnects by itself.
    // disconnectTimeout: a socket to a stopped server may never close by itself; ioredis waits 2 s by default.
    client = new Redis(server.url, { retryStrategy: () => 50, connectTimeout: 500, disconnectTimeout: 50 });
    client.on('error', () => undefined);
    const changes: StoreStateChange['state'][] = [];
    const redisStore = new RedisThrottleStore(client, { keyPrefix: `faults:${policy}:` });
    // Connected and the script cached before the clock starts: a slow first call on a busy machine
    // must not count as an outage.
    await redisStore.hit(checks('warm-up'));
    const store = new FailSafeThrottleStore(redisStore, {
      onStoreError: policy,
      timeoutMs: TIMEOUT_MS,
      retryIntervalMs: 100,
      clock: () => LOCAL_EPOCH,
      onStateChange: (change) => changes.push(change.state),
    });
    const hitOnce = async (id: string): Promise<Outcome> => {
      const started = Date.now();
      try {
        const [result] = await store.hit(checks(id));
        const kind = result.now === LOCAL_EPOCH ? (policy === 'local' ? 'local' : 'allow-fallback') : 'redis';
        return { kind, ms: Date.now() - started };
      } catch (error) {
        return { kind: error instanceof StoreUnavailableError ? 'denied-503' : 'other-error', ms: Date.now() - started };
      }
    };
    /** A bounded load: `count` requests, one every 10 ms, each awaited concurrently. */
    const load = async (count: number, id: string): Promise<Outcome[]> => {
      const pending: Promise<Outcome>[] = [];
      for (let i = 0; i < count; i++) {
        pending.push(hitOnce(id));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return Promise.all(pending);
    };
    /** Requests until Redis answers one again (bounded: 5 s). */
    const untilRecovered = async (id: string): Promise<number> => {
      const started = Date.now();
      while (Date.now() - started < 5000) {
        if ((await hitOnce(id)).kind === 'redis') return Date.now() - started;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('the store did not recover within 5 s');
    };
    return { store, changes, load, untilRecovered };
  };

  const expectedDuringOutage: Record<StoreErrorPolicy, Outcome['kind']> = { allow: 'allow-fallback', deny: 'denied-503', local: 'local' };

  describe.each(['allow', 'deny', 'local'] as const)("onStoreError '%s'", (policy) => {
    test('SIGSTOP then SIGCONT: every request answered within the timeout by the policy, recovery on its own, one log per edge', async () => {
      const { changes, load, untilRecovered } = await setUp(policy);
      expect(new Set((await load(5, 'stop')).map((o) => o.kind))).toEqual(new Set(['redis']));

      server.pause();
      const during = await load(30, 'stop');
      expect(new Set(during.map((o) => o.kind))).toEqual(new Set([expectedDuringOutage[policy]]));
      expect(Math.max(...during.map((o) => o.ms))).toBeLessThan(TIMEOUT_MS + SLACK_MS);

      server.resume();
      await untilRecovered('stop');
      expect(new Set((await load(5, 'stop')).map((o) => o.kind))).toEqual(new Set(['redis']));
      expect(changes).toEqual(['down', 'up']);
    });

    test('kill then restart: every request answered within the timeout by the policy, recovery on its own, one log per edge', async () => {
      const { changes, load, untilRecovered } = await setUp(policy);
      expect(new Set((await load(5, 'kill')).map((o) => o.kind))).toEqual(new Set(['redis']));

      await server.kill();
      const during = await load(30, 'kill');
      expect(new Set(during.map((o) => o.kind))).toEqual(new Set([expectedDuringOutage[policy]]));
      expect(Math.max(...during.map((o) => o.ms))).toBeLessThan(TIMEOUT_MS + SLACK_MS);

      await server.restart();
      await untilRecovered('kill');
      expect(new Set((await load(5, 'kill')).map((o) => o.kind))).toEqual(new Set(['redis']));
      expect(changes).toEqual(['down', 'up']);
    });
  });

  test("'local' keeps enforcing limits in the process while Redis is down", async () => {
    const { store } = await setUp('local');
    server.pause();
    const tight: WindowCheck = { key: 'throttle_tight_local', limit: 3, windowMs: 60_000, record: true };
    const answers: boolean[] = [];
    for (let i = 0; i < 5; i++) answers.push((await store.hit([tight]))[0].allowed);
    expect(answers).toEqual([true, true, true, false, false]);
  });

  test('replies that arrive after their timeout never become unhandled rejections (in a process that would die of one)', async () => {
    // Jest intercepts unhandled rejections, so the scenario runs in a plain node process, where
    // one would crash it (node's default): SIGSTOP, 40 timed-out calls, SIGCONT, late replies.
    const child = spawn(process.execPath, ['--import', './test/redis/support/ts-register.mjs', './test/redis/support/late-replies.child.ts', server.url], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('ready')) server.pause();
      if (String(chunk).includes('resume')) server.resume();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    server.resume();
    expect({ code, output: output.trim().split('\n').pop() }).toEqual({ code: 0, output: 'late replies swallowed: 40 calls answered by the policy' });
  }, 20_000);
});
