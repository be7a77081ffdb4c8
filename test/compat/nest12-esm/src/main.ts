// A Nest 12 app in ESM using nestjs-throttling from its built package (`import ... from
// 'nestjs-throttling'` through the package's exports and types). It boots on Express and on
// Fastify and with a socket.io gateway that binds nothing itself, sends requests with real
// clients, and prints what it saw as one JSON line for test/compat/nest12-esm.spec.ts to check.
import 'reflect-metadata';
import { Controller, Get, Injectable, type LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { io } from 'socket.io-client';
import { AnonThrottle, SimpleRateThrottle, type ThrottleContext, ThrottleClasses, ThrottlingModule } from 'nestjs-throttling';

const clock = () => 1_700_000_000_000;

@Injectable()
class Tiers {
  tierOf(ident: string): string {
    return ident.startsWith('127.') ? 'local' : 'remote';
  }
}

/** A throttle with a constructor-injected service, not listed as a provider. */
@Injectable()
class TierThrottle extends SimpleRateThrottle {
  override scope = 'tier';
  override rate = '2/min';

  constructor(private readonly tiers: Tiers) {
    super();
  }

  getCacheKey(ctx: ThrottleContext): string | null {
    return this.formatKey(this.tiers.tierOf(ctx.ident), ctx.ident);
  }
}

@Controller()
class ApiController {
  @Get('limited') limited() {
    return 'limited';
  }

  @Get('off') @ThrottleClasses() off() {
    return 'off';
  }

  @Get('tier') @ThrottleClasses(TierThrottle) tier() {
    return 'tier';
  }
}

/** Binds no guard: on Nest 12 the module's global guard reaches it. */
@WebSocketGateway({ namespace: 'chat' })
class ChatGateway {
  @SubscribeMessage('shout')
  @ThrottleClasses(AnonThrottle.with({ scope: 'shout', rate: '1/min' }))
  shout(@MessageBody() text: string) {
    return { shouted: text.toUpperCase() };
  }
}

@Module({ providers: [Tiers], exports: [Tiers] })
class TiersModule {}

const throttling = ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle], rates: { anon: '3/min' }, clock });

class WarningsLogger implements LoggerService {
  readonly warnings: string[] = [];
  log() {}
  error() {}
  debug() {}
  verbose() {}
  warn(message: unknown) {
    this.warnings.push(String(message));
  }
}

/** Waits until `done()` holds, or two seconds have passed (a message that never comes fails the check that follows). */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
}

async function statuses(base: string, path: string, count: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) seen.push((await fetch(`${base}${path}`)).status);
  return seen;
}

async function httpRun(adapter: 'express' | 'fastify') {
  @Module({ imports: [TiersModule, throttling], controllers: [ApiController] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  try {
    const headers = (await fetch(`${base}/limited`)).headers;
    return {
      policy: headers.get('ratelimit-policy'),
      limited: await statuses(base, '/limited', 3),
      off: await statuses(base, '/off', 5),
      tier: await statuses(base, '/tier', 3),
    };
  } finally {
    await app.close();
  }
}

async function socketIoRun() {
  @Module({ imports: [throttling], providers: [ChatGateway] })
  class ChatModule {}
  const logger = new WarningsLogger();
  const app = await NestFactory.create(ChatModule, { logger });
  await app.listen(0, '127.0.0.1');
  const socket = io(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/chat`, { transports: ['websocket'] });
  const exceptions: unknown[] = [];
  socket.on('exception', (payload: unknown) => exceptions.push(payload));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const first = await socket.timeout(2_000).emitWithAck('shout', 'hi');
    socket.emit('shout', 'again');
    await until(() => exceptions.length > 0);
    return { first, exceptions, warnings: logger.warnings };
  } finally {
    socket.disconnect();
    await app.close();
  }
}

const nestCore = (await import('@nestjs/core/package.json', { with: { type: 'json' } }).catch(() => ({ default: { version: 'unknown' } }))).default.version;
const report = {
  nestCore,
  loadedBy: typeof require === 'undefined' ? 'esm' : 'commonjs',
  // The file of the package that `import` picks: its ES module build.
  libraryEntry: import.meta.resolve('nestjs-throttling').replace(/^.*\/node_modules\/nestjs-throttling\//, ''),
  express: await httpRun('express'),
  fastify: await httpRun('fastify'),
  socketIo: await socketIoRun(),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
