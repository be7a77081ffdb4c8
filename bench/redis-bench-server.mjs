// One Redis-store benchmark server (bench/lib/bench-server.mjs: a one-route Nest app on Fastify),
// counting in Redis and counting the requests it receives.
// Usage (from bench/redis-bench.mjs, via child_process.fork; its VARIANTS name these):
//   node bench/redis-bench-server.mjs <variant> <limitsJson> <redisUrl>
//   variant: ours | ours-write-each | nestjs-throttler
import 'reflect-metadata';
import { Redis } from 'ioredis';
import { createRequire } from 'node:module';
import { RedisThrottleStore } from '../dist/esm/index.js';
import { serveBenchApp } from './lib/bench-server.mjs';
import { nestjsThrottlerModule, ourModule } from './lib/compared-modules.mjs';

const [variant, limitsJson, redisUrl] = process.argv.slice(2);
const limits = JSON.parse(limitsJson);

function ours({ coalesceWrites = true } = {}) {
  const redis = new Redis(redisUrl);
  const store = new RedisThrottleStore(redis, { keyPrefix: 'bench:', coalesceWrites });
  // The default 100 ms would make a benchmark on a busy machine measure the 'local' fallback.
  return { imports: [ourModule(limits, { store, storeTimeout: 2_000 })], providers: [], close: () => redis.quit() };
}

function nestjsThrottler() {
  // CommonJS; it loads Nest 12 (ESM) through require(esm).
  const { ThrottlerStorageRedisService } = createRequire(import.meta.url)('@nest-lab/throttler-storage-redis');
  const storage = new ThrottlerStorageRedisService(redisUrl);
  return { ...nestjsThrottlerModule(limits, storage), close: () => storage.onModuleDestroy?.() };
}

const variants = { ours, 'ours-write-each': () => ours({ coalesceWrites: false }), 'nestjs-throttler': nestjsThrottler };
if (!(variant in variants)) throw new Error(`bench/redis-bench-server.mjs: unknown variant '${variant}'`);
await serveBenchApp(variants[variant](), { countRequests: true });
