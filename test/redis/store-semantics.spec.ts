import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import KeyvRedis from '@keyv/redis';
import KeyvValkey from '@keyv/valkey';
import { createCache, type Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import IoValkey from 'iovalkey';
import { Keyv } from 'keyv';
import { createClient } from 'redis';
import { CacheManagerThrottleStore, RedisThrottleStore } from '../../lib/index.js';
import { THROTTLE_SCRIPT_COMMANDS, THROTTLE_SCRIPT_SHA } from '../../lib/stores/redis/throttle-script.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';
import { RedisServerProcess } from './support/redis-server-process.js';
import { countSocketWrites } from './support/socket-writes.js';
import { describeStoreSemantics } from '../support/store-semantics.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('semantics');

// The embedded store, the reference, runs the same spec in test/unit/memory-throttle-store.spec.ts.

suite('on real Redis', () => {
  const io = new Redis(REDIS_URL, { lazyConnect: true });
  const valkey = new IoValkey.default(REDIS_URL, { lazyConnect: true });
  const nodeRedis = createClient({ url: REDIS_URL });
  let keyvRedisCache: Cache;
  let keyvValkeyCache: Cache;
  let keyvRedis: KeyvRedis<unknown>;
  let keyvValkey: KeyvValkey;

  beforeAll(async () => {
    await Promise.all([io.connect(), valkey.connect(), nodeRedis.connect()]);
    keyvRedis = new KeyvRedis(REDIS_URL);
    keyvValkey = new KeyvValkey(REDIS_URL);
    // Namespaced under this run's prefix: the throttle keys start with the namespace, and are cleaned up with it.
    keyvRedisCache = createCache({ stores: [new Keyv({ store: keyvRedis, namespace: `${prefix}ns` })] });
    keyvValkeyCache = createCache({ stores: [new Keyv({ store: keyvValkey, namespace: `${prefix}ns` })] });
  });

  afterAll(async () => {
    await deleteKeys(prefix);
    await Promise.all([io.quit(), valkey.quit(), nodeRedis.close(), keyvRedis.disconnect(), keyvValkey.disconnect()]);
  });

  describeStoreSemantics('RedisThrottleStore over ioredis', (clock) => ({ store: new RedisThrottleStore(io, { keyPrefix: `${prefix}io:`, clock }) }));
  describeStoreSemantics('RedisThrottleStore over node-redis', (clock) => ({ store: new RedisThrottleStore(nodeRedis, { keyPrefix: `${prefix}nr:`, clock }) }));
  describeStoreSemantics('RedisThrottleStore over iovalkey', (clock) => ({ store: new RedisThrottleStore(valkey, { keyPrefix: `${prefix}vk:`, clock }) }));
  describeStoreSemantics('CacheManagerThrottleStore on a @keyv/redis cache', (clock) => ({ store: new CacheManagerThrottleStore(keyvRedisCache, { keyPrefix: `${prefix}kr:`, clock }) }));
  describeStoreSemantics('CacheManagerThrottleStore on a @keyv/valkey cache', (clock) => ({ store: new CacheManagerThrottleStore(keyvValkeyCache, { keyPrefix: `${prefix}kv:`, clock }) }));

  describe('Redis specifics', () => {
    const check = (key: string, limit = 5, windowMs = 60_000) => ({ key, limit, windowMs, record: true });

    test.each([
      ['@keyv/redis', () => new KeyvRedis(REDIS_URL)],
      ['@keyv/valkey', () => new KeyvValkey(REDIS_URL)],
    ] as const)('the cache-manager store on a %s cache keeps its keys under the cache\'s Keyv namespace: two apps with different namespaces count apart', async (name, makeStore) => {
      const [first, second] = [makeStore(), makeStore()];
      const ip = name === '@keyv/redis' ? '10.9.9.1' : '10.9.9.2';
      try {
        const app1 = new CacheManagerThrottleStore(createCache({ stores: [new Keyv({ store: first, namespace: `${prefix}app1` })] }));
        const app2 = new CacheManagerThrottleStore(createCache({ stores: [new Keyv({ store: second, namespace: `${prefix}app2` })] }));
        const [one] = await app1.hit([check(`throttle_anon_${ip}`, 1)]);
        const [two] = await app2.hit([check(`throttle_anon_${ip}`, 1)]);
        expect([one.allowed, two.allowed]).toEqual([true, true]);
        expect(await io.llen(`${prefix}app1:throttle_anon_{${ip}}`)).toBe(1);
        expect(await io.llen(`${prefix}app2:throttle_anon_{${ip}}`)).toBe(1);
        expect(await io.exists(`throttle_anon_{${ip}}`)).toBe(0);
      } finally {
        await Promise.all([first.disconnect(), second.disconnect()]);
      }
    });

    test('without a clock the time is the Redis server time, in milliseconds', async () => {
      const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}time:` });
      const [serverSeconds, micros] = await io.time();
      const [result] = await store.hit([check('throttle_time_a')]);
      const serverMs = Number(serverSeconds) * 1000 + Math.floor(Number(micros) / 1000);
      expect(result.now).toBeGreaterThanOrEqual(serverMs);
      expect(result.now - serverMs).toBeLessThan(1000);
      expect(Number.isInteger(result.now)).toBe(true);
    });

    test('keys expire on their own between one and 1.5 retentions after their last hit, and carry the identity as hash tag', async () => {
      const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}ttl:` });
      await store.hit([check('throttle_user_42', 5, 2_000), { ...check('throttle_burst_42', 5, 1_000), ttlMs: 30_000 }]);
      expect(await io.exists(`${prefix}ttl:throttle_user_{42}`, `${prefix}ttl:throttle_burst_{42}`)).toBe(2);
      const userTtl = await io.pttl(`${prefix}ttl:throttle_user_{42}`);
      const burstTtl = await io.pttl(`${prefix}ttl:throttle_burst_{42}`);
      expect(userTtl).toBeGreaterThan(2_000 - 100);
      expect(userTtl).toBeLessThanOrEqual(3_000);
      expect(burstTtl).toBeGreaterThan(30_000 - 100);
      expect(burstTtl).toBeLessThanOrEqual(45_000);
    });

    test('the key prefix defaults to throttle:', async () => {
      const store = new RedisThrottleStore(io);
      expect(store.redisKey('throttle_anon_127.0.0.1')).toBe('throttle:throttle_anon_{127.0.0.1}');
      expect(store.redisKey('throttle_user_user_42')).toBe('throttle:throttle_user_user_{42}');
      // Tastypie's and custom keys are hashed whole: they spread over a Cluster's slots.
      expect(store.redisKey('tastypie:api/notes1.2.3.4_accesses')).toBe('throttle:tastypie:api/notes1.2.3.4_accesses');
      expect(store.redisKey('no-identity')).toBe('throttle:no-identity');
    });

    test('a key prefix with braces is refused, since it would put every key in one Cluster slot', () => {
      expect(() => new RedisThrottleStore(io, { keyPrefix: '{app}:' })).toThrow("RedisThrottleStore: keyPrefix must not contain '{' or '}' (it would become every key's hash tag), got '{app}:'");
    });

    test('a flushed script cache (restart, failover) is reloaded on NOSCRIPT, for every client', async () => {
      for (const client of [io, nodeRedis, valkey]) {
        const store = new RedisThrottleStore(client, { keyPrefix: `${prefix}noscript:` });
        await io.script('FLUSH');
        expect(await io.script('EXISTS', THROTTLE_SCRIPT_SHA)).toEqual([0]);
        expect((await store.hit([check('throttle_flush_x', 100)]))[0].allowed).toBe(true);
        expect(await io.script('EXISTS', THROTTLE_SCRIPT_SHA)).toEqual([1]);
      }
    });

    test('one request with three throttles is one Redis command', async () => {
      // A server of this test's own: nothing else sends it commands between the two readings.
      const server = await RedisServerProcess.start();
      const own = new Redis(server.url);
      try {
        const store = new RedisThrottleStore(own, { keyPrefix: `${prefix}one:` });
        await store.hit([check('throttle_warm_1')]);
        const before = await commandCalls(own);
        for (let i = 0; i < 10; i++) await store.hit([check('throttle_anon_9'), check('throttle_user_9'), check('throttle_uploads_9')]);
        const after = await commandCalls(own);
        // Commandstats also counts what the script calls inside Redis; the client sent the rest
        // (INFO itself counts once between the two readings).
        expect(after.sentByClients - before.sentByClients - 1).toBe(10);
        expect(after.evalsha - before.evalsha).toBe(10);
      } finally {
        own.disconnect();
        await server.stop();
      }
    });

    describe('the script calls of one event-loop turn leave in one socket write (ioredis, iovalkey)', () => {
      // A server of this test's own, so that its read counter sees no other client.
      let server: RedisServerProcess;
      beforeAll(async () => {
        server = await RedisServerProcess.start();
      });
      afterAll(async () => {
        await server.stop();
      });

      let calls = 0;
      /** Sends 40 checks of different clients in one turn; counts the client's socket writes and Redis's read events. */
      async function fortyChecksInOneTurn(client: Redis | InstanceType<typeof IoValkey.default>, options: { coalesceWrites?: boolean }) {
        const store = new RedisThrottleStore(client, { keyPrefix: `${prefix}coalesce${++calls}:`, ...options });
        await store.hit([check('throttle_warm_0')]);
        const writes = countSocketWrites(client.stream);
        const readsBefore = await readsProcessed(client);
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.hit([check(`throttle_anon_10.0.0.${i}`, 1), check(`throttle_user_10.0.0.${i}`, 1)])));
        // This INFO is one more read event, written after the 40 calls were answered.
        const reads = (await readsProcessed(client)) - readsBefore - 1;
        // Less the two INFO commands, each written alone.
        return { writes: writes() - 2, reads, results };
      }

      test('by default: one write here, one read event in Redis, every answer its own', async () => {
        for (const client of [new Redis(server.url), new IoValkey.default(server.url)]) {
          try {
            const { writes, reads, results } = await fortyChecksInOneTurn(client, {});
            expect(writes).toBe(1);
            expect(reads).toBe(1);
            expect(results.map((pair) => pair.map((result) => [result.allowed, result.count]))).toEqual(Array.from({ length: 40 }, () => [[true, 0], [true, 0]]));
          } finally {
            client.disconnect();
          }
        }
      });

      // ioredis's autopipelining batches per tick by itself: this checks that the two together still answer each call.
      test("with the client's own enableAutoPipelining too: one write, every answer its own", async () => {
        const client = new Redis(server.url, { enableAutoPipelining: true });
        try {
          const { writes, results } = await fortyChecksInOneTurn(client, {});
          expect(writes).toBe(1);
          expect(results.every((pair) => pair.every((result) => result.allowed && result.count === 0))).toBe(true);
        } finally {
          client.disconnect();
        }
      });

      test("the app's own commands on the same client in that turn leave in the same write", async () => {
        const client = new Redis(server.url);
        try {
          const store = new RedisThrottleStore(client, { keyPrefix: `${prefix}coalesce-own:` });
          await store.hit([check('throttle_warm_0')]);
          const writes = countSocketWrites(client.stream);
          const [[result], pong, missing] = await Promise.all([store.hit([check('throttle_anon_10.2.0.1', 1)]), client.ping(), client.get(`${prefix}coalesce-own:absent`)]);
          expect(writes()).toBe(1);
          expect([result.allowed, pong, missing]).toEqual([true, 'PONG', null]);
        } finally {
          client.disconnect();
        }
      });

      test('the cache-manager store on a @keyv/valkey cache writes one turn of calls together too', async () => {
        const keyv = new KeyvValkey(server.url);
        try {
          const store = new CacheManagerThrottleStore(createCache({ stores: [new Keyv({ store: keyv })] }), { keyPrefix: `${prefix}coalesce-keyv:` });
          await store.hit([check('throttle_warm_0')]);
          const writes = countSocketWrites(keyv.redis.stream);
          const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.hit([check(`throttle_anon_10.1.0.${i}`, 1)])));
          expect(writes()).toBe(1);
          expect(results.every(([result]) => result.allowed && result.count === 0)).toBe(true);
        } finally {
          await keyv.disconnect();
        }
      });

      test('coalesceWrites: false writes each call at once, as ioredis does', async () => {
        const client = new Redis(server.url);
        try {
          const { writes, results } = await fortyChecksInOneTurn(client, { coalesceWrites: false });
          expect(writes).toBe(40);
          expect(results.every((pair) => pair.every((result) => result.allowed))).toBe(true);
        } finally {
          client.disconnect();
        }
      });

      test('a call made while the client is still connecting is queued by the client and answered once connected', async () => {
        const client = new Redis(server.url);
        try {
          const store = new RedisThrottleStore(client, { keyPrefix: `${prefix}coalesce-lazy:` });
          const pending = store.hit([check('throttle_lazy_1', 1)]);
          expect(client.status).not.toBe('ready');
          expect((await pending)[0].allowed).toBe(true);
          expect((await store.hit([check('throttle_lazy_1', 1)]))[0].allowed).toBe(false);
        } finally {
          client.disconnect();
        }
      });

      test('coalesceWrites must be a boolean', () => {
        expect(() => new RedisThrottleStore(io, { coalesceWrites: 'yes' as never })).toThrow("RedisThrottleStore: coalesceWrites must be true or false, got 'yes'");
      });
    });

    test('a sorted set is not ours either: the call fails naming the key, and the set is left alone', async () => {
      const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}zset:` });
      const redisKey = store.redisKey('throttle_user_7');
      await io.zadd(redisKey, 1, 'a:1');
      await expect(store.hit([check('throttle_user_7', 3)])).rejects.toThrow(`nestjs-throttling: key ${redisKey} holds a zset, not a list of hit times`);
      await expect(store.peek('throttle_user_7', 60_000)).rejects.toThrow('holds a zset');
      expect(await io.zrange(redisKey, '0', '-1')).toEqual(['a:1']);
    });

    test('a key of any other type is left alone and the call fails, naming the key', async () => {
      const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}foreign:` });
      const redisKey = store.redisKey('throttle_user_8');
      await io.set(redisKey, 'not ours');
      await expect(store.hit([check('throttle_user_8')])).rejects.toThrow(`nestjs-throttling: key ${redisKey} holds a string, not a list of hit times`);
      await expect(store.peek('throttle_user_8', 60_000)).rejects.toThrow('holds a string');
      expect(await io.get(redisKey)).toBe('not ours');
    });

    test('a client that is not a Redis client is refused with a clear error', () => {
      expect(() => new RedisThrottleStore({ get() {} })).toThrow('RedisThrottleStore needs a Redis client (ioredis, iovalkey, or node-redis createClient()/createCluster()), got an instance of Object');
      expect(() => new RedisThrottleStore(undefined)).toThrow('got undefined');
    });

    test('the cache-manager store takes the atomic path only on a Redis or Valkey backed cache', () => {
      expect(new CacheManagerThrottleStore(keyvRedisCache).isAtomic).toBe(true);
      expect(new CacheManagerThrottleStore(keyvValkeyCache).isAtomic).toBe(true);
      expect(new CacheManagerThrottleStore(createCache()).isAtomic).toBe(false);
    });
  });
});

/** Commands sent by clients (commandstats also counts those the script calls inside Redis), and EVALSHAs. */
/** Redis's count of read events on client sockets (INFO stats, Redis 6+). */
async function readsProcessed(client: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/^total_reads_processed:(\d+)/m.exec(await client.info('stats'))?.[1]);
}

async function commandCalls(redis: Redis): Promise<{ sentByClients: number; evalsha: number }> {
  const info = await redis.info('commandstats');
  let sentByClients = 0;
  let evalsha = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!THROTTLE_SCRIPT_COMMANDS.has(match[1])) sentByClients += Number(match[2]);
    if (match[1] === 'evalsha') evalsha = Number(match[2]);
  }
  return { sentByClients, evalsha };
}
