// The server's side of a benchmark server (the driver's side is bench/lib/server-process.mjs):
// a one-route Nest app on Fastify in its own process, listening on an ephemeral port of 127.0.0.1.
// Tells the parent { port, pid } over IPC once listening, answers 'stats' with its counters, and
// exits on 'stop' or when the parent goes away.
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

// Plain ESM has no decorator syntax: apply Nest's decorators by hand, exactly as tsc would.
export class HelloController {
  hello() {
    return 'hello';
  }
}
Controller()(HelloController);
Get()(HelloController.prototype, 'hello', Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello'));

/**
 * Serves GET / with `imports` and `providers` around it. `countRequests` adds an onRequest hook so
 * the parent can divide by requests that really reached the guard (autocannon does not count those
 * in flight when a load stops); it is off where the hook's own cost would blur the comparison.
 * `close` runs after the app closes (the variant's own clients).
 */
export async function serveBenchApp({ imports, providers, close }, { countRequests = false } = {}) {
  class BenchModule {}
  Module({ imports, controllers: [HelloController], providers })(BenchModule);

  const app = await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false });
  let handled = countRequests ? 0 : null;
  if (countRequests) {
    app.getHttpAdapter().getInstance().addHook('onRequest', (_request, _reply, done) => {
      handled++;
      done();
    });
  }
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();

  const stop = async () => {
    await app.close();
    // The variant's clients may already be gone (Redis stopped first): exit all the same.
    await Promise.allSettled([Promise.resolve().then(close)]);
    process.exit(0);
  };
  process.on('message', (message) => {
    if (message === 'stop') void stop();
    if (message === 'stats') {
      const cpu = process.cpuUsage();
      process.send({ stats: { handled, cpuMicros: cpu.user + cpu.system } });
    }
  });
  process.on('disconnect', () => void stop());
  process.send({ port, pid: process.pid });
}
