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

  test.each([
    ['gcra', '198.51.100.11'],
    ['sliding-window', '198.51.100.12'],
    ['fixed-window', '198.51.100.13'],
  ])('%s: 2,000 concurrent requests from one client over the 4 processes, limit 100: exactly 100 admitted', async (algorithm, address) => {
    const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => get(agent, apps[i % apps.length].port, `/algorithms/${algorithm}`, { 'x-forwarded-for': address })));
    expect(tally(answers)).toEqual({ 200: 100, 429: 1900 });
    expect(answers.filter((answer) => answer.status === 429).every((answer) => Number(answer.retryAfter) > 0)).toBe(true);
  }, 60_000);

  test('a route that costs 10 under 100/hour and 55/hour: 5 of 500 concurrent requests admitted, and the denied ones consumed nothing of the wider throttle', async () => {
    const address = '198.51.100.14';
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => get(agent, apps[i % apps.length].port, '/algorithms/costly', { 'x-forwarded-for': address })));
    expect(tally(answers)).toEqual({ 200: 5, 429: 495 });
    const usage = await get(agent, apps[0].port, '/algorithms/costly-usage', { 'x-client': address });
    expect(JSON.parse(usage.body)).toEqual({ count: 50, remaining: 50 });
  }, 60_000);

  test('blockFor 600 s at 5/min: 5 of 200 concurrent requests admitted, every refusal says to come back in about 600 s', async () => {
    const address = '198.51.100.15';
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => get(agent, apps[i % apps.length].port, '/algorithms/blocking', { 'x-forwarded-for': address })));
    expect(tally(answers)).toEqual({ 200: 5, 429: 195 });
    // The first denial starts the block; the ones Redis answered before it carry the 5/min log's wait, so check the last ones.
    const later = await Promise.all(apps.map((app) => get(agent, app.port, '/algorithms/blocking', { 'x-forwarded-for': address })));
    for (const answer of later) {
      expect(answer.status).toBe(429);
      expect(Number(answer.retryAfter)).toBeGreaterThan(590);
      expect(Number(answer.retryAfter)).toBeLessThanOrEqual(600);
    }
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
