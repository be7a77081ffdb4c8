import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Agent } from 'node:http';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { type Answer, type AppProcess, get, startAppProcess, stopAppProcess } from './support/app-processes.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('processes');
const MINUTE = 60_000;

suite('four app processes on one Redis (Express and Fastify), with clocks up to ten minutes apart', () => {
  // Each instance's injected clock is off by its own offset; the store must only use Redis time.
  const instances = [
    { platform: 'fastify', clockOffsetMs: -5 * MINUTE },
    { platform: 'express', clockOffsetMs: +5 * MINUTE },
    { platform: 'fastify', clockOffsetMs: 0 },
    { platform: 'express', clockOffsetMs: +90_000 },
  ];
  let apps: AppProcess[] = [];
  let agent: Agent;

  beforeAll(async () => {
    const started = await Promise.allSettled(instances.map((instance) => startAppProcess({ redisUrl: REDIS_URL, keyPrefix: prefix, rate: '100/hour', ...instance })));
    apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    agent = new Agent({ keepAlive: true, maxSockets: 250 });
  }, 120_000);

  afterAll(async () => {
    agent?.destroy();
    await Promise.all(apps.map(stopAppProcess));
    await deleteKeys(prefix);
  });

  const tally = (answers: Answer[]) => {
    const byStatus: Record<number, number> = {};
    for (const answer of answers) byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
    return byStatus;
  };

  test('2,000 concurrent requests from one client over the 4 processes, limit 100: exactly 100 admitted, the rest 429 with Retry-After', async () => {
    const client = { 'x-forwarded-for': '198.51.100.1' };
    const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => get(agent, apps[i % apps.length].port, '/hello', client)));
    expect(tally(answers)).toEqual({ 200: 100, 429: 1900 });
    const retryAfters = answers.filter((answer) => answer.status === 429).map((answer) => Number(answer.retryAfter));
    expect(retryAfters.every((seconds) => Number.isInteger(seconds) && seconds > 3500 && seconds <= 3600)).toBe(true);
  }, 60_000);

  test('200 concurrent wrong passwords for one username over the 4 processes (ThrottlingService.attempt, throttleAt 5): exactly 5 passwords checked', async () => {
    const user = { 'x-login-user': `victim-${prefix}` };
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => get(agent, apps[i % apps.length].port, '/login', user)));
    expect(tally(answers)).toEqual({ 401: 5, 429: 195 });
  }, 60_000);

  test('two instances whose clocks differ by ten minutes share one window (the time is the server\'s)', async () => {
    const [behind, ahead] = apps;
    const client = { 'x-forwarded-for': '198.51.100.2' };
    const admitted: Answer[] = [];
    for (let i = 0; i < 100; i++) admitted.push(await get(agent, (i % 2 === 0 ? behind : ahead).port, '/hello', client));
    expect(tally(admitted)).toEqual({ 200: 100 });
    for (const app of [ahead, behind]) {
      const answer = await get(agent, app.port, '/hello', client);
      expect(answer.status).toBe(429);
      // An hour minus the seconds the 100 requests took. Were the instances' clocks used, the one
      // ahead would see the other's hits ten minutes old and answer about 3000 s.
      expect(Number(answer.retryAfter)).toBeGreaterThan(3500);
      expect(Number(answer.retryAfter)).toBeLessThanOrEqual(3600);
    }
  }, 60_000);
});
