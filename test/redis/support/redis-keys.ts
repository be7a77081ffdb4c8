import { Redis } from 'ioredis';
import { REDIS_URL, RUN_ID } from '../../support/services.js';

/** A key prefix unique to this run and suite, so parallel runs and suites never share keys. */
export function runPrefix(suite: string): string {
  return `nestjs-throttling-test:${RUN_ID}:${suite}:`;
}

/** Deletes every key under a prefix (SCAN, test cleanup only) and returns how many there were. */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
