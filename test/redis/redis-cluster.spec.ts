import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { RedisThrottleStore } from '../../lib/index.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { runPrefix } from './support/redis-keys.js';
import { RedisClusterProcess } from './support/redis-cluster-process.js';
import { countSocketWrites } from './support/socket-writes.js';
import { describeStoreSemantics } from '../support/store-semantics.js';
import type { WindowCheck } from '../../lib/core/store.js';
import { runScenario, scenario } from './support/algorithm-scenarios.js';

// The cluster is started by this suite from the redis-server binary that serves REDIS_URL.
const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('cluster');

suite('on a 3-master Redis Cluster started by the test', () => {
  let cluster: RedisClusterProcess;
  let io: Cluster;
  let nodeRedis: ReturnType<typeof createCluster>;

  beforeAll(async () => {
    cluster = await RedisClusterProcess.start(3);
    io = new Cluster(cluster.rootNodes, { lazyConnect: true });
    await io.connect();
    nodeRedis = createCluster({ rootNodes: cluster.rootNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) });
    await nodeRedis.connect();
  }, 40_000);

  afterAll(async () => {
    // The cluster's data dies with it: stopping the nodes is the cleanup.
    await io?.quit().catch(() => undefined);
    await nodeRedis?.close().catch(() => undefined);
    await cluster?.stop();
  });

  describeStoreSemantics('RedisThrottleStore over an ioredis Cluster', (clock) => ({ store: new RedisThrottleStore(io, { keyPrefix: `${prefix}io:`, clock }) }));
  describeStoreSemantics('RedisThrottleStore over a node-redis cluster', (clock) => ({ store: new RedisThrottleStore(nodeRedis, { keyPrefix: `${prefix}nr:`, clock }) }));

  test('the keys of one request share a slot; different identities spread over the masters', async () => {
    const store = new RedisThrottleStore(io, { keyPrefix: prefix });
    const slotOf = async (key: string) => Number(await io.cluster('KEYSLOT', store.redisKey(key)));
    const ident = '203.0.113.7';
    const slots = await Promise.all([`throttle_anon_${ident}`, `throttle_user_${ident}`, `throttle_uploads_${ident}`].map(slotOf));
    expect(new Set(slots).size).toBe(1);
    const spread = new Set(await Promise.all(Array.from({ length: 30 }, (_, i) => slotOf(`throttle_user_${i}`))));
    expect(spread.size).toBeGreaterThan(1);
  });

  test('an ioredis Cluster sends the calls of one event-loop turn in one write per master', async () => {
    const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}coalesce:` });
    // Every master has answered once, so the client knows the slots and has a socket to each.
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.hit([{ key: `throttle_warm_${i}`, limit: 5, windowMs: 60_000, record: true }])));
    const writesPerNode = io.nodes('master').map((node) => countSocketWrites(node.stream));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => store.hit([{ key: `throttle_user_${i}`, limit: 1, windowMs: 60_000, record: true }])));
    expect(results.every(([result]) => result.allowed && result.count === 0)).toBe(true);
    // 30 identities spread over the three masters (checked above): each got its share in one write.
    expect(writesPerNode.map((writes) => writes())).toEqual([1, 1, 1]);
  });

  test('the server time is used on a Cluster too, and keys get their expiry', async () => {
    const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}time:` });
    const before = Date.now();
    const [result] = await store.hit([{ key: 'throttle_user_7', limit: 3, windowMs: 5_000, record: true }]);
    expect(Math.abs(result.now - before)).toBeLessThan(5_000);
    const ttl = await io.pttl(store.redisKey('throttle_user_7'));
    expect(ttl).toBeGreaterThan(5_000 - 100);
    expect(ttl).toBeLessThanOrEqual(7_500);
  });

  describe('algorithms, all or nothing and the deny cache on a Cluster', () => {
    let stores = 0;
    /** Script calls the masters have run so far (EVALSHA, and the EVAL of a NOSCRIPT). */
    const scriptCalls = async () => {
      let calls = 0;
      for (const { port } of cluster.rootNodes) {
        const node = new Redis({ port, lazyConnect: true });
        await node.connect();
        const info = await node.info('commandstats');
        node.disconnect();
        for (const [, count] of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(count);
      }
      return calls;
    };
    /** Identities whose keys land on different masters. */
    const onTwoMasters = async (): Promise<[string, string]> => {
      const masterOf = async (ident: string) => {
        const slot = Number(await io.cluster('KEYSLOT', `{${ident}}`));
        const ranges = (await io.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
        return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
      };
      const first = 'ident0';
      const port = await masterOf(first);
      for (let i = 1; ; i++) if ((await masterOf(`ident${i}`)) !== port) return [first, `ident${i}`];
    };

    test.each([
      ['one identity (one slot, one call)', ['client']],
      ['three identities (a slot each: all or nothing in two rounds)', ['alice', 'bob', 'carol']],
    ])('random calls in any mix of algorithms, cost, blockMs and allOrNothing give the TypeScript cores’ results, %s', async (_name, identities) => {
      await fc.assert(
        fc.asyncProperty(scenario, (drawn) => runScenario(drawn, (clock) => new RedisThrottleStore(io, { keyPrefix: `${prefix}prop${++stores}:`, clock }), identities, false)),
        { numRuns: 60 },
      );
    }, 120_000);

    test('all or nothing across two hash tags: a denial on one counts nothing on the other and writes its block; all allowed count on both', async () => {
      let now = 1_764_000_000_000;
      const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}aon:`, clock: () => now });
      const [a, b] = await onTwoMasters();
      const onA: WindowCheck = { key: `throttle_api_${a}`, limit: 10, windowMs: 60_000, record: true, algorithm: 'gcra', allOrNothing: true };
      const onB: WindowCheck = { key: `throttle_api_${b}`, limit: 2, windowMs: 60_000, record: true, algorithm: 'fixed-window', cost: 2, blockMs: 300_000, allOrNothing: true };
      // Loads the script on both masters (a first call elsewhere would be a NOSCRIPT and an EVAL).
      await store.hit([{ ...onA, allOrNothing: false }, { ...onB, allOrNothing: false }]);
      await Promise.all([store.reset(onA.key), store.reset(onB.key)]);
      let calls = await scriptCalls();
      expect((await store.hit([onA, onB])).map((r) => r.allowed)).toEqual([true, true]);
      // Decided on both tags without writing, then committed on both.
      expect((await scriptCalls()) - calls).toBe(4);
      now += 1000;
      calls = await scriptCalls();
      const refused = await store.hit([onA, onB]);
      expect(refused.map((r) => r.allowed)).toEqual([true, false]);
      // Decided on both; B's block written on B alone.
      expect((await scriptCalls()) - calls).toBe(3);
      expect(refused[1].outcome).toMatchObject({ remaining: 0, waitMs: 300_000 });
      expect((await store.peek(onA.key, 60_000, { algorithm: 'gcra', limit: 10 })).count).toBe(1);
      expect((await store.peek(onB.key, 60_000, { algorithm: 'fixed-window', limit: 2 })).outcome).toMatchObject({ allowed: false, waitMs: 300_000 });
      // The DRF keys of one request share the identity's tag: all or nothing in one call.
      calls = await scriptCalls();
      const sameIdentity = [onA, { ...onA, key: `throttle_burst_${a}`, algorithm: 'sliding-window' as const }];
      expect((await store.hit(sameIdentity)).map((r) => r.allowed)).toEqual([true, true]);
      expect((await scriptCalls()) - calls).toBe(1);
      await Promise.all([onA.key, onB.key, sameIdentity[1].key].map((key) => store.reset(key)));
    });

    test('the deny cache on a Cluster: a flood over a gcra limit costs one script call after the first denial, on whichever master holds the key', async () => {
      let now = 1_764_000_000_000;
      const cached = new RedisThrottleStore(io, { keyPrefix: `${prefix}deny:`, clock: () => now, denyCache: true });
      const plain = new RedisThrottleStore(io, { keyPrefix: `${prefix}denyplain:`, clock: () => now });
      const [a, b] = await onTwoMasters();
      const flood = (ident: string): WindowCheck => ({ key: `throttle_flood_${ident}`, limit: 5, windowMs: 60_000, record: true, algorithm: 'gcra' });
      await plain.hit([flood(a)]);
      await plain.hit([flood(b)]);
      await plain.reset(flood(a).key);
      await plain.reset(flood(b).key);
      const calls = await scriptCalls();
      const decisions: unknown[][] = [[], []];
      for (let i = 0; i < 100; i++) {
        now += 10;
        for (const [j, ident] of [a, b].entries()) {
          const [viaCache] = await cached.hit([flood(ident)]);
          decisions[j].push(viaCache);
        }
      }
      // Five allowed and the first denial per key reached Redis; the other 94 denials per key did not.
      expect((await scriptCalls()) - calls).toBe(12);
      // The same answers Redis gives, waits counting down.
      now -= 990;
      for (const [j, ident] of [a, b].entries()) {
        for (let i = 0; i < 100; i++) {
          const [direct] = await plain.hit([flood(ident)]);
          expect({ i, result: direct }).toEqual({ i, result: decisions[j][i] });
          now += 10;
        }
        now -= 1000;
      }
      for (const store of [cached, plain]) await Promise.all([a, b].map((ident) => store.reset(flood(ident).key)));
    });

    test('reset() on a Cluster forgets every name of a key (one DEL in its slot)', async () => {
      const store = new RedisThrottleStore(io, { keyPrefix: `${prefix}reset:` });
      const key = 'throttle_user_31';
      await store.hit([{ key, limit: 1, windowMs: 60_000, record: true, blockMs: 60_000 }, ...(['fixed-window', 'sliding-window', 'gcra'] as const).map((algorithm) => ({ key, limit: 5, windowMs: 60_000, record: true, algorithm }))]);
      await store.hit([{ key, limit: 1, windowMs: 60_000, record: true, blockMs: 60_000 }]);
      const names = [store.redisKey(key), ...['fw', 'sw', 'gc', 'block'].map((suffix) => `${store.redisKey(key)}:${suffix}`)];
      expect(await Promise.all(names.map((name) => io.exists(name)))).toEqual([1, 1, 1, 1, 1]);
      await store.reset(key);
      expect(await Promise.all(names.map((name) => io.exists(name)))).toEqual([0, 0, 0, 0, 0]);
    });
  });
});
