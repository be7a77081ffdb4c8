import { afterAll, describe, expect, test } from '@jest/globals';
import { Agent } from 'node:http';
import { REDIS_URL, serviceAvailable } from '../support/services.js';
import { type AppProcess, get, startAppProcess, stopAppProcess } from './support/app-processes.js';
import { deleteKeys, runPrefix } from './support/redis-keys.js';

const runs = await serviceAvailable('Redis', REDIS_URL);
const suite = runs ? describe : describe.skip;
const prefix = runPrefix('processes');

suite('several app processes on one Redis', () => {
  const started: AppProcess[] = [];
  const start = async (config: Record<string, unknown>) => {
    const app = await startAppProcess({ redisUrl: REDIS_URL, platform: 'fastify', clockOffsetMs: 0, ...config });
    started.push(app);
    return app;
  };

  afterAll(async () => {
    await Promise.all(started.map(stopAppProcess));
    await deleteKeys(prefix);
  });

  test('2,000 concurrent requests from one client over 4 processes, limit 100: exactly 100 admitted, the rest 429 with Retry-After', async () => {
    const apps = await Promise.all([0, 1, 2, 3].map(() => start({ keyPrefix: `${prefix}exact:`, rate: '100/hour' })));
    const agent = new Agent({ keepAlive: true, maxSockets: 250 });
    try {
      const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => get(agent, apps[i % apps.length].port, '/hello')));
      const byStatus = new Map<number, number>();
      for (const answer of answers) byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
      expect(Object.fromEntries(byStatus)).toEqual({ 200: 100, 429: 1900 });
      const retryAfters = answers.filter((answer) => answer.status === 429).map((answer) => Number(answer.retryAfter));
      expect(retryAfters.every((seconds) => Number.isInteger(seconds) && seconds > 0 && seconds <= 3600)).toBe(true);
    } finally {
      agent.destroy();
    }
  }, 120_000);

  test('two instances whose clocks differ by ten minutes share one window (the time is the server\'s)', async () => {
    const keyPrefix = `${prefix}skew:`;
    const [behind, ahead] = await Promise.all([
      start({ keyPrefix, rate: '3/min', clockOffsetMs: -5 * 60_000, platform: 'express' }),
      start({ keyPrefix, rate: '3/min', clockOffsetMs: +5 * 60_000 }),
    ]);
    const agent = new Agent({ keepAlive: true });
    try {
      const statuses: number[] = [];
      for (const app of [behind, ahead, behind]) statuses.push((await get(agent, app.port, '/hello')).status);
      expect(statuses).toEqual([200, 200, 200]);
      for (const app of [ahead, behind]) {
        const answer = await get(agent, app.port, '/hello');
        expect(answer.status).toBe(429);
        // 60 s minus the time since the first request (seconds at most, even on a loaded machine):
        // were either instance's clock used, the wait would be off by minutes or the request admitted.
        expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(50);
        expect(Number(answer.retryAfter)).toBeLessThanOrEqual(60);
      }
    } finally {
      agent.destroy();
    }
  }, 120_000);
});
