// One Redis-store benchmark server (bench/lib/bench-server.mjs: a one-route Nest app on Fastify),
// counting in Redis and counting the requests it receives.
// Usage (from bench/redis-bench.mjs and bench/versus-flexible.mjs, via child_process.fork):
//   node bench/redis-bench-server.mjs <variant> <limitsJson> <redisUrl>
//   variant: ours | ours-write-each | ours-deny-cache | nestjs-throttler (bench/redis-bench.mjs)
//            | none | ours-fixed-window | rate-limiter-flexible (bench/versus-flexible.mjs)
import 'reflect-metadata';
import { Redis } from 'ioredis';
import { createRequire } from 'node:module';
import { RedisThrottleStore } from '../dist/esm/index.js';
import { serveBenchApp } from './lib/bench-server.mjs';
import { nestjsThrottlerModule, ourModule, rateLimiterFlexibleModule } from './lib/compared-modules.mjs';

const [variant, limitsJson, redisUrl] = process.argv.slice(2);
const limits = JSON.parse(limitsJson);

function ours({ storeOptions = {}, moduleOptions = {} } = {}) {
  const redis = new Redis(redisUrl);
  const store = new RedisThrottleStore(redis, { keyPrefix: 'bench:', ...storeOptions });
  // The default 100 ms would make a benchmark on a busy machine measure the 'local' fallback.
  return { imports: [ourModule(limits, { store, storeTimeout: 2_000, ...moduleOptions })], providers: [], close: () => redis.quit() };
}

function nestjsThrottler() {
  // CommonJS; it loads Nest 12 (ESM) through require(esm).
  const { ThrottlerStorageRedisService } = createRequire(import.meta.url)('@nest-lab/throttler-storage-redis');
  const storage = new ThrottlerStorageRedisService(redisUrl);
  return { ...nestjsThrottlerModule(limits, storage), close: () => storage.onModuleDestroy?.() };
}

function rateLimiterFlexible() {
  const redis = new Redis(redisUrl);
  return { ...rateLimiterFlexibleModule(limits, redis), close: () => redis.quit() };
}

const variants = {
  // The ceiling: no guard, nothing sent to Redis.
  none: () => ({ imports: [], providers: [] }),
  ours: () => ours(),
  'ours-write-each': () => ours({ storeOptions: { coalesceWrites: false } }),
  'ours-deny-cache': () => ours({ storeOptions: { denyCache: true } }),
  'ours-fixed-window': () => ours({ moduleOptions: { algorithm: 'fixed-window' } }),
  'nestjs-throttler': nestjsThrottler,
  'rate-limiter-flexible': rateLimiterFlexible,
};
if (!(variant in variants)) throw new Error(`bench/redis-bench-server.mjs: unknown variant '${variant}'`);
await serveBenchApp(variants[variant](), { countRequests: true });
