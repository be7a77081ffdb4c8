// One memory-store benchmark server (bench/lib/bench-server.mjs: a one-route Nest app on Fastify).
// Usage (from bench/run.mjs, via child_process.fork): node bench/server.mjs <variant> <limitsJson>
//   variant: an id of bench/lib/memory-variants.mjs, or one bench/versus-flexible.mjs runs
//   limits:  {"minute": <count per minute>, "hour": <count per hour>}
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { serveBenchApp } from './lib/bench-server.mjs';
import { nestjsThrottlerModule, ourModule, rateLimiterFlexibleModule } from './lib/compared-modules.mjs';

const [variant, limitsJson] = process.argv.slice(2);
const limits = JSON.parse(limitsJson ?? '{"minute":100,"hour":1000}');

/**
 * A global guard that counts nothing and writes the two IETF headers this module writes, with values
 * of the same shape (built per request, as ours are): the least any throttle that sends them pays on
 * Fastify, since Fastify and Node lower-case, validate and serialize every header.
 */
class HeaderWritingGuard {
  constructor() {
    this.policy = `"minute";q=${limits.minute};w=60, "hour";q=${limits.hour};w=3600`;
    this.served = 0;
  }
  canActivate(context) {
    const reply = context.switchToHttp().getResponse();
    const remaining = limits.minute - 1 - (this.served++ % limits.minute);
    reply.header('ratelimit-policy', this.policy);
    reply.header('ratelimit', `"minute";r=${remaining};t=60, "hour";r=${limits.hour - 1};t=3600`);
    return true;
  }
}
Injectable()(HeaderWritingGuard);

const variants = {
  none: () => ({ imports: [], providers: [] }),
  'header-writing-guard': () => ({ imports: [], providers: [{ provide: APP_GUARD, useClass: HeaderWritingGuard }] }),
  ours: () => ({ imports: [ourModule(limits)], providers: [] }),
  'ours-no-headers': () => ({ imports: [ourModule(limits, { headers: false })], providers: [] }),
  // prom-client's default register: a decision counter per throttle per request.
  'ours-metrics': () => ({ imports: [ourModule(limits, { metrics: { prometheus: {} } })], providers: [] }),
  'nestjs-throttler': () => nestjsThrottlerModule(limits),
  // bench/versus-flexible.mjs: fixed windows, what rate-limiter-flexible counts.
  'ours-fixed-window': () => ({ imports: [ourModule(limits, { algorithm: 'fixed-window' })], providers: [] }),
  'rate-limiter-flexible': () => rateLimiterFlexibleModule(limits),
};
if (!(variant in variants)) throw new Error(`bench/server.mjs: unknown variant '${variant}'`);
await serveBenchApp(variants[variant]());
