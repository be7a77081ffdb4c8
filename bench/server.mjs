// One benchmark server: a one-route Nest app on Fastify, in its own process.
// Usage (from bench/run.mjs, via child_process.fork): node bench/server.mjs <variant> <limitsJson>
//   variant: none | noop-guard | ours | ours-interceptor | nestjs-throttler
//   limits:  {"minute": <count per minute>, "hour": <count per hour>}
// Reports {port} to the parent over IPC once listening on 127.0.0.1 (ephemeral port), answers 'cpu'
// with its process.cpuUsage(), and exits when the parent disconnects or sends 'stop'.
import 'reflect-metadata';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { createRequire } from 'node:module';
import { ThrottlingModule, UserThrottle } from '../dist/index.js';

const [variant, limitsJson] = process.argv.slice(2);
const limits = JSON.parse(limitsJson ?? '{"minute":100,"hour":1000}');

// Plain ESM has no decorator syntax: apply Nest's decorators by hand, exactly as tsc would.
class HelloController {
  hello() {
    return 'hello';
  }
}
Controller()(HelloController);
Get()(HelloController.prototype, 'hello', Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello'));

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

/** X-Forwarded-For with one trusted proxy: the rightmost address, like our numProxies: 1. */
function forwardedForTracker(req) {
  const header = req.headers['x-forwarded-for'];
  if (typeof header !== 'string' || header.length === 0) return req.ip;
  const comma = header.lastIndexOf(',');
  return (comma === -1 ? header : header.slice(comma + 1)).trim();
}

function ourModule() {
  return ThrottlingModule.forRoot({
    defaultThrottles: [
      UserThrottle.with({ scope: 'minute', rate: `${limits.minute}/min` }),
      UserThrottle.with({ scope: 'hour', rate: `${limits.hour}/hour` }),
    ],
    numProxies: 1,
  });
}

async function nestjsThrottlerModule() {
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
      }),
    ],
    providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
  };
}

async function moduleMetadata() {
  switch (variant) {
    case 'none':
      return { imports: [], providers: [] };
    case 'noop-guard':
      return { imports: [], providers: [{ provide: APP_GUARD, useClass: AllowAllGuard }] };
    case 'ours':
      return { imports: [ourModule()], providers: [] };
    case 'ours-interceptor':
      return { imports: [ourModule()], providers: [{ provide: APP_INTERCEPTOR, useClass: NoopInterceptor }] };
    case 'nestjs-throttler':
      return nestjsThrottlerModule();
    default:
      throw new Error(`bench/server.mjs: unknown variant '${variant}'`);
  }
}

const { imports, providers } = await moduleMetadata();
class BenchModule {}
Module({ imports, controllers: [HelloController], providers })(BenchModule);

const app = await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false });
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address();

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('message', (message) => {
  if (message === 'stop') void stop();
  // CPU time the server spent (user + system, µs): the parent turns it into CPU per request.
  if (message === 'cpu') process.send({ cpu: process.cpuUsage() });
});
process.on('disconnect', () => void stop());
process.send({ port, pid: process.pid });
