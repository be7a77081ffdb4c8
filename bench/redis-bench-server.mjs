// One Redis benchmark server: a one-route Nest app on Fastify, in its own process, counting in Redis.
// Usage (from bench/redis-bench.mjs, via child_process.fork):
//   node bench/redis-bench-server.mjs <variant> <limitsJson> <redisUrl>
//   variant: ours | nestjs-throttler
// Both variants apply the same two limits per client (the X-Forwarded-For address of one proxy).
// Reports {port} over IPC once listening on 127.0.0.1; exits on 'stop' or when the parent goes away.
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { createRequire } from 'node:module';
import { RedisThrottleStore, ThrottlingModule, UserThrottle } from '../dist/index.js';

const [variant, limitsJson, redisUrl] = process.argv.slice(2);
const limits = JSON.parse(limitsJson);
const closers = [];

// Plain ESM has no decorator syntax: apply Nest's decorators by hand, exactly as tsc would.
class HelloController {
  hello() {
    return 'hello';
  }
}
Controller()(HelloController);
Get()(HelloController.prototype, 'hello', Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello'));

function ours() {
  const redis = new Redis(redisUrl);
  closers.push(() => redis.quit());
  return {
    imports: [
      ThrottlingModule.forRoot({
        defaultThrottles: [
          UserThrottle.with({ scope: 'minute', rate: `${limits.minute}/min` }),
          UserThrottle.with({ scope: 'hour', rate: `${limits.hour}/hour` }),
        ],
        numProxies: 1,
        store: new RedisThrottleStore(redis, { keyPrefix: 'bench:' }),
        // The default 100 ms would make a benchmark on a busy machine measure the 'local' fallback.
        storeTimeout: 2_000,
      }),
    ],
    providers: [],
  };
}

/** X-Forwarded-For with one trusted proxy: the rightmost address, like our numProxies: 1. */
function forwardedForTracker(req) {
  const header = req.headers['x-forwarded-for'];
  if (typeof header !== 'string' || header.length === 0) return req.ip;
  const comma = header.lastIndexOf(',');
  return (comma === -1 ? header : header.slice(comma + 1)).trim();
}

function nestjsThrottler() {
  // Both packages are CommonJS; they load Nest 12 (ESM) through require(esm).
  const require = createRequire(import.meta.url);
  const { ThrottlerModule, ThrottlerGuard } = require('@nestjs/throttler');
  const { ThrottlerStorageRedisService } = require('@nest-lab/throttler-storage-redis');
  const storage = new ThrottlerStorageRedisService(redisUrl);
  closers.push(() => storage.onModuleDestroy?.());
  return {
    imports: [
      ThrottlerModule.forRoot({
        throttlers: [
          { name: 'minute', ttl: 60_000, limit: limits.minute },
          { name: 'hour', ttl: 3_600_000, limit: limits.hour },
        ],
        getTracker: forwardedForTracker,
        storage,
      }),
    ],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  };
}

const variants = { ours, 'nestjs-throttler': nestjsThrottler };
if (!(variant in variants)) throw new Error(`bench/redis-bench-server.mjs: unknown variant '${variant}'`);
const { imports, providers } = variants[variant]();
class BenchModule {}
Module({ imports, controllers: [HelloController], providers })(BenchModule);

const app = await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false });
// Requests received, counted by the server itself, so the parent divides Redis commands by requests
// that really reached the guard (autocannon does not count those in flight when a load stops).
let handled = 0;
app.getHttpAdapter().getInstance().addHook('onRequest', (_request, _reply, done) => {
  handled++;
  done();
});
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address();

const stop = async () => {
  await app.close();
  await Promise.allSettled(closers.map((close) => close()));
  process.exit(0);
};
process.on('message', (message) => {
  if (message === 'stop') void stop();
  if (message === 'handled') {
    const cpu = process.cpuUsage();
    process.send({ handled, cpuMicros: cpu.user + cpu.system });
  }
});
process.on('disconnect', () => void stop());
process.send({ port });
