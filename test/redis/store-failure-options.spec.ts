import { Controller, Get, type LoggerService } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import request from 'supertest';
import { FailSafeThrottleStore, MemoryThrottleStore, RedisThrottleStore, ThrottleClasses, ThrottleConfigError, UserThrottle, type ThrottlingModuleOptions } from '../../lib/index.js';
import { bootError } from '../support/http-app.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { testModule } from '../support/test-app.js';
import { RedisServerProcess } from './support/redis-server-process.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;

@Controller()
class LimitedController {
  @Get('limited')
  @ThrottleClasses(UserThrottle.with({ scope: 'limited', rate: '100/min' }))
  limited() {
    return { ok: true };
  }
}

describe('onStoreError and storeTimeout are validated at boot', () => {
  const boot = (options: Record<string, unknown>) => bootError(testModule({ options: options as ThrottlingModuleOptions, controllers: [LimitedController] }));

  test('an unknown policy names the option and the value', async () => {
    const error = await boot({ onStoreError: 'block' });
    expect(error).toBeInstanceOf(ThrottleConfigError);
    expect(error?.message).toBe("ThrottlingModule: onStoreError must be 'allow', 'deny' or 'local', got 'block'");
  });

  test.each([0, -5, Number.NaN, '100'])('storeTimeout %p is refused', async (storeTimeout) => {
    const error = await boot({ storeTimeout });
    expect(error?.message).toMatch(/^ThrottlingModule: storeTimeout must be a positive number of milliseconds, got /);
  });

  test('the wrapper refuses a bad policy and a bad timeout too', () => {
    const inner = new MemoryThrottleStore();
    expect(() => new FailSafeThrottleStore(inner, { onStoreError: 'never' as never })).toThrow(`onStoreError must be 'allow', 'deny' or 'local', got 'never'`);
    expect(() => new FailSafeThrottleStore(inner, { timeoutMs: -1 })).toThrow('storeTimeout must be a positive number of milliseconds, got -1');
  });
});

suite('the module logs a store outage once when it begins and once when it ends', () => {
  let server: RedisServerProcess;
  let client: Redis;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    // disconnectTimeout: a socket to a stopped server may never close by itself; ioredis waits 2 s by default.
    client = new Redis(server.url, { retryStrategy: () => 50, connectTimeout: 500, disconnectTimeout: 50 });
    client.on('error', () => undefined);
    await client.ping();
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  test('30 requests during a SIGSTOP give one error line and, after SIGCONT, one recovery line', async () => {
    const lines: { level: string; message: string }[] = [];
    const recorder: LoggerService = {
      log: (message) => lines.push({ level: 'log', message: String(message) }),
      error: (message) => lines.push({ level: 'error', message: String(message) }),
      warn: (message) => lines.push({ level: 'warn', message: String(message) }),
    };
    const module = testModule({
      options: { store: new RedisThrottleStore(client, { keyPrefix: 'log-edges:' }), onStoreError: 'allow', storeTimeout: 200 },
      controllers: [LimitedController],
    });
    const testing = await Test.createTestingModule({ imports: [module] }).compile();
    const app = testing.createNestApplication(new ExpressAdapter(), { logger: recorder });
    await app.init();
    try {
      const http = app.getHttpServer();
      await request(http).get('/limited').expect(200);
      server.pause();
      for (let i = 0; i < 30; i++) await request(http).get('/limited').expect(200);
      server.resume();
      const deadline = Date.now() + 5000;
      while (!lines.some((line) => line.message.includes('answers again after')) && Date.now() < deadline) {
        await request(http).get('/limited').expect(200);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const edges = lines.filter((line) => line.message.startsWith('Throttle store'));
      expect(edges.map((line) => line.level)).toEqual(['error', 'log']);
      expect(edges[0].message).toContain("RedisThrottleStore is unavailable (the throttle store did not answer within 200 ms); onStoreError 'allow' applies");
      expect(edges[1].message).toMatch(/^Throttle store RedisThrottleStore answers again after \d+ ms$/);
    } finally {
      server.resume();
      await app.close();
    }
  });
});

suite('storeTimeout measures the store, not a process busy with a burst', () => {
  // Long enough that a loaded CI machine answers in time once the burst is over; the bursts last 3x as long.
  const TIMEOUT_MS = 200;
  const prefix = `busy-${process.pid}-${Date.now()}:`;
  let client: Redis;

  beforeAll(async () => {
    client = new Redis(REDIS_URL);
    await client.ping();
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  /** Keeps the event loop busy, as handling a burst of requests does. */
  function busyFor(ms: number): void {
    const until = performance.now() + ms;
    while (performance.now() < until);
  }

  function failSafe() {
    const changes: string[] = [];
    const store = new FailSafeThrottleStore(new RedisThrottleStore(client, { keyPrefix: prefix }), {
      onStoreError: 'local',
      timeoutMs: TIMEOUT_MS,
      closeInner: false,
      onStateChange: (change) => changes.push(change.state),
    });
    return { store, changes };
  }

  const checks = (key: string) => [{ key, limit: 3, windowMs: 60_000, record: true }];

  test('calls made by a turn that then stays busy for 3x the timeout are answered by Redis, not by the policy', async () => {
    const { store, changes } = failSafe();
    const key = `throttle_burst_${Date.now()}`;
    // Five requests in one turn: the last two must be denied by Redis's count, not let through by a
    // local store that starts from zero.
    const calls = Array.from({ length: 5 }, () => store.hit(checks(key)));
    busyFor(TIMEOUT_MS * 3);
    const results = await Promise.all(calls);
    expect(results.map(([result]) => result.allowed)).toEqual([true, true, true, false, false]);
    expect(changes).toEqual([]);
    // RedisThrottleStore's key: the identity (the last part) is the hash tag.
    expect(await client.llen(`${prefix}${key.replace(/_(\d+)$/, '_{$1}')}`)).toBe(3);
    await store.close();
  });

  test('replies that arrive while a later turn is busy past the deadline are read before the deadline is enforced', async () => {
    const { store, changes } = failSafe();
    const key = `throttle_later_${Date.now()}`;
    const calls = Array.from({ length: 5 }, () => store.hit(checks(key)));
    // Registered after the calls: runs once their commands are written, and holds the loop until
    // long after their deadline, while Redis's replies wait on the socket.
    setImmediate(() => busyFor(TIMEOUT_MS * 3));
    const results = await Promise.all(calls);
    expect(results.map(([result]) => result.allowed)).toEqual([true, true, true, false, false]);
    expect(changes).toEqual([]);
    await store.close();
  });

  test('a server that does not answer is still an outage after the timeout', async () => {
    const changes: string[] = [];
    const started = performance.now();
    // A command that blocks the connection for 2 s: this client's next call waits behind it.
    const blocked = client.duplicate();
    const blocking = new RedisThrottleStore(blocked, { keyPrefix: prefix });
    const slow = new FailSafeThrottleStore(blocking, { onStoreError: 'local', timeoutMs: TIMEOUT_MS, onStateChange: (change) => changes.push(change.state) });
    const pending = blocked.blpop(`${prefix}never`, 2);
    const [result] = await slow.hit(checks(`throttle_slow_${Date.now()}`));
    expect(result.allowed).toBe(true);
    expect(changes).toEqual(['down']);
    expect(performance.now() - started).toBeLessThan(1500);
    await pending;
    await slow.close();
    blocked.disconnect();
  });
});

suite('the module clock and a RedisThrottleStore', () => {
  let client: Redis;
  beforeAll(async () => {
    client = new Redis(REDIS_URL);
    await client.ping();
  });
  afterAll(() => client.disconnect());

  async function warningsOf(options: ThrottlingModuleOptions): Promise<string[]> {
    const warnings: string[] = [];
    const recorder: LoggerService = { log: () => undefined, error: () => undefined, warn: (message) => warnings.push(String(message)) };
    const testing = await Test.createTestingModule({ imports: [testModule({ options, controllers: [LimitedController] })] }).compile();
    const app = testing.createNestApplication(new ExpressAdapter(), { logger: recorder });
    await app.init();
    await app.close();
    return warnings.filter((message) => message.includes('clock'));
  }

  test('a clock the Redis store never sees is named at boot, with the fix', async () => {
    const clock = () => 1_700_000_000_000;
    expect(await warningsOf({ store: new RedisThrottleStore(client, { keyPrefix: 'clock-warning:' }), clock })).toEqual([
      "the clock option does not reach RedisThrottleStore, which counts in the Redis server's time; to test with a clock, give it to the store: new RedisThrottleStore(client, { clock })",
    ]);
  });

  test('no warning when the store has its own clock, or when there is no module clock', async () => {
    const clock = () => 1_700_000_000_000;
    expect(await warningsOf({ store: new RedisThrottleStore(client, { keyPrefix: 'clock-warning:', clock }), clock })).toEqual([]);
    expect(await warningsOf({ store: new RedisThrottleStore(client, { keyPrefix: 'clock-warning:' }) })).toEqual([]);
  });
});
