import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Agent } from 'node:http';
import { Redis } from 'ioredis';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { type AppProcess, get, startAppProcess, stopAppProcess } from './support/app-processes.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('burst-defaults');
const ROUNDS = 20;
const REQUESTS = 2000;
const CLIENT = '198.51.100.7';

suite('a burst on a healthy Redis with the default storeTimeout and onStoreError (4 processes)', () => {
  let apps: AppProcess[] = [];
  let redis: Redis;

  beforeAll(async () => {
    // storeTimeout 'default': 100 ms and onStoreError 'local', as an app that sets neither.
    const platforms = ['fastify', 'express', 'fastify', 'express'];
    const started = await Promise.allSettled(platforms.map((platform) => startAppProcess({ redisUrl: REDIS_URL, keyPrefix: prefix, rate: '100/min', platform, clockOffsetMs: 0, storeTimeout: 'default' })));
    apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    redis = new Redis(REDIS_URL);
    // Each process connected and the script cached before the first round.
    const agent = new Agent();
    await Promise.all(apps.map((app) => get(agent, app.port, '/hello', { 'x-forwarded-for': '198.51.100.250' })));
    agent.destroy();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(apps.map(stopAppProcess));
    redis?.disconnect();
    await deleteKeys(prefix);
  });

  test(`${REQUESTS} concurrent requests from one client at 100/min, ${ROUNDS} rounds: exactly 100 admitted in every round`, async () => {
    const admitted: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // RedisThrottleStore's key for AnonThrottle: the identity is the hash tag.
      await redis.del(`${prefix}throttle_anon_{${CLIENT}}`);
      // An agent per round: no keep-alive socket sits idle between rounds, for the server to close as it is reused.
      const agent = new Agent({ keepAlive: true, maxSockets: 250 });
      const answers = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => get(agent, apps[i % apps.length].port, '/hello', { 'x-forwarded-for': CLIENT }))).finally(() => agent.destroy());
      admitted.push(answers.filter((answer) => answer.status === 200).length);
      expect(answers.every((answer) => answer.status === 200 || answer.status === 429)).toBe(true);
    }
    expect(admitted).toEqual(Array.from({ length: ROUNDS }, () => 100));
  }, 120_000);
});
