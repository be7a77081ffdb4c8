// The throttling setups the benchmarks compare, given the same two limits per client (the
// X-Forwarded-For address appended by one trusted proxy): this module, @nestjs/throttler 6.7 and
// rate-limiter-flexible 11.
import { HttpException, Injectable } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { createRequire } from 'node:module';

// BENCH_DIST: the ES module entry of another build of this module (bench/compare-builds.mjs sets
// it), so two builds can be measured side by side; this checkout's dist/esm/ otherwise.
const { ThrottlingModule, UserThrottle } = await import(process.env.BENCH_DIST ?? '../../dist/esm/index.js');

/** This module with two UserThrottles (scopes 'minute' and 'hour'); `options` adds e.g. a store. */
export function ourModule(limits, options = {}) {
  return ThrottlingModule.forRoot({
    defaultThrottles: [
      UserThrottle.with({ scope: 'minute', rate: `${limits.minute}/min` }),
      UserThrottle.with({ scope: 'hour', rate: `${limits.hour}/hour` }),
    ],
    numProxies: 1,
    ...options,
  });
}

/** X-Forwarded-For with one trusted proxy: the rightmost address, like our numProxies: 1. */
function forwardedForTracker(req) {
  const header = req.headers['x-forwarded-for'];
  if (typeof header !== 'string' || header.length === 0) return req.ip;
  const comma = header.lastIndexOf(',');
  return (comma === -1 ? header : header.slice(comma + 1)).trim();
}

/**
 * @nestjs/throttler with two named throttlers and ThrottlerGuard as APP_GUARD, on its default
 * in-memory storage unless `storage` is given. Returns { imports, providers } for the app module.
 */
export function nestjsThrottlerModule(limits, storage) {
  // @nestjs/throttler 6.7 is CommonJS; it loads Nest 12 (ESM) through require(esm).
  const require = createRequire(import.meta.url);
  const { ThrottlerModule, ThrottlerGuard } = require('@nestjs/throttler');
  return {
    imports: [
      ThrottlerModule.forRoot({
        throttlers: [
          { name: 'minute', ttl: 60_000, limit: limits.minute },
          { name: 'hour', ttl: 3_600_000, limit: limits.hour },
        ],
        getTracker: forwardedForTracker,
        ...(storage === undefined ? {} : { storage }),
      }),
    ],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  };
}

/**
 * rate-limiter-flexible 11 as its README wires Nest (through nestjs-rate-limiter's guard): a global
 * guard consuming a point per request for the client's address, here from a minute and an hour
 * limiter at once (RateLimiterUnion, the library's way to combine limits), and setting the README's
 * headers for the limiter with the fewest points left; a denial is a 429 with Retry-After.
 * RateLimiterRedis on `storeClient` (an ioredis client) when given, else RateLimiterMemory.
 * Returns { imports, providers } for the app module.
 */
export function rateLimiterFlexibleModule(limits, storeClient) {
  const { RateLimiterMemory, RateLimiterRedis, RateLimiterUnion } = createRequire(import.meta.url)('rate-limiter-flexible');
  const limiter = (keyPrefix, points, duration) =>
    storeClient === undefined ? new RateLimiterMemory({ keyPrefix, points, duration }) : new RateLimiterRedis({ storeClient, keyPrefix, points, duration });
  const union = new RateLimiterUnion(limiter('minute', limits.minute, 60), limiter('hour', limits.hour, 3600));
  const points = { minute: limits.minute, hour: limits.hour };

  class RateLimiterFlexibleGuard {
    async canActivate(context) {
      const http = context.switchToHttp();
      const reply = http.getResponse();
      let results;
      try {
        results = await union.consume(forwardedForTracker(http.getRequest()));
      } catch (rejected) {
        if (rejected instanceof Error) throw rejected;
        const waitMs = Math.max(...Object.values(rejected).map((res) => res.msBeforeNext));
        reply.header('Retry-After', Math.ceil(waitMs / 1000));
        throw new HttpException('Too Many Requests', 429);
      }
      const tightest = results.minute.remainingPoints <= results.hour.remainingPoints ? 'minute' : 'hour';
      const res = results[tightest];
      reply.header('X-RateLimit-Limit', points[tightest]);
      reply.header('X-RateLimit-Remaining', res.remainingPoints);
      reply.header('X-RateLimit-Reset', Math.ceil((Date.now() + res.msBeforeNext) / 1000));
      return true;
    }
  }
  Injectable()(RateLimiterFlexibleGuard);
  return { imports: [], providers: [{ provide: APP_GUARD, useClass: RateLimiterFlexibleGuard }] };
}
