// The two throttling setups every benchmark compares, given the same two limits per client (the
// X-Forwarded-For address appended by one trusted proxy): this module, and @nestjs/throttler 6.7.
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
