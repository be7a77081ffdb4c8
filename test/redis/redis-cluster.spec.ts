import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { RedisThrottleStore } from '../../lib/index.js';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { runPrefix } from './support/redis-keys.js';
import { RedisClusterProcess } from './support/redis-cluster-process.js';
import { countSocketWrites } from './support/socket-writes.js';
import { describeStoreSemantics } from '../support/store-semantics.js';

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
});
