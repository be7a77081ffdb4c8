// One memory-store benchmark server (bench/lib/bench-server.mjs: a one-route Nest app on Fastify).
// Usage (from bench/run.mjs, via child_process.fork): node bench/server.mjs <variant> <limitsJson>
//   variant: none | noop-guard | busy-guard | header-writing-guard | ours | ours-no-headers | ours-interceptor | nestjs-throttler
//   limits:  {"minute": <count per minute>, "hour": <count per hour>}
// BENCH_BUSY_NS (default 500): the nanoseconds busy-guard burns per request.
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { serveBenchApp } from './lib/bench-server.mjs';
import { nestjsThrottlerModule, ourModule } from './lib/compared-modules.mjs';
import { BUSY_NS } from './lib/memory-variants.mjs';

const [variant, limitsJson] = process.argv.slice(2);
const limits = JSON.parse(limitsJson ?? '{"minute":100,"hour":1000}');

/** A global interceptor that does nothing: measures what any APP_INTERCEPTOR costs per request. */
class NoopInterceptor {
  intercept(_context, next) {
    return next.handle();
  }
}
Injectable()(NoopInterceptor);

/** A global guard that lets everything through: what Nest itself charges for having any guard. */
class AllowAllGuard {
  canActivate() {
    return true;
  }
}
Injectable()(AllowAllGuard);

/**
 * A global guard that burns BUSY_NS nanoseconds of CPU per request and allocates nothing: the exchange
 * rate, on this machine and load, between a guard's own time per request and the server's throughput.
 * On loopback, with the load generator on the same cores, a slower server also pays more in the kernel
 * for each response it writes (the client is more often asleep and must be woken), so a nanosecond of
 * guard costs the server more than a nanosecond. The loop is an integer recurrence whose length is
 * measured when the server starts.
 */
class BusyGuard {
  constructor() {
    this.state = 1;
    this.iterations = Math.max(1, Math.round(BUSY_NS * iterationsPerNanosecond()));
  }
  canActivate() {
    this.state = spin(this.state, this.iterations);
    return true;
  }
}
Injectable()(BusyGuard);

function spin(state, iterations) {
  let x = state;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  return x;
}

/** The loop's speed: the best of several timed runs, after the JIT has compiled it. */
function iterationsPerNanosecond() {
  const iterations = 20_000_000;
  let best = Infinity;
  for (let run = 0; run < 6; run++) {
    const started = process.hrtime.bigint();
    calibrationState = spin(calibrationState, iterations);
    best = Math.min(best, Number(process.hrtime.bigint() - started));
  }
  return iterations / best;
}
/** Where the calibration runs leave their result, so no compiler may drop them as dead code. */
let calibrationState = 1;

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

function moduleMetadata() {
  switch (variant) {
    case 'none':
      return { imports: [], providers: [] };
    case 'noop-guard':
      return { imports: [], providers: [{ provide: APP_GUARD, useClass: AllowAllGuard }] };
    case 'busy-guard':
      return { imports: [], providers: [{ provide: APP_GUARD, useClass: BusyGuard }] };
    case 'header-writing-guard':
      return { imports: [], providers: [{ provide: APP_GUARD, useClass: HeaderWritingGuard }] };
    case 'ours':
      return { imports: [ourModule(limits)], providers: [] };
    case 'ours-no-headers':
      return { imports: [ourModule(limits, { headers: false })], providers: [] };
    case 'ours-interceptor':
      return { imports: [ourModule(limits)], providers: [{ provide: APP_INTERCEPTOR, useClass: NoopInterceptor }] };
    case 'nestjs-throttler':
      return nestjsThrottlerModule(limits);
    default:
      throw new Error(`bench/server.mjs: unknown variant '${variant}'`);
  }
}

await serveBenchApp(moduleMetadata());
