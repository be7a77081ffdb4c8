/**
 * @ThrottleCost(n) reaches throttles as `ctx.cost` on every transport: HTTP (real Express and
 * Fastify), and GraphQL, WebSocket, microservice and custom contexts run through the global guard
 * by Nest's ExternalContextCreator, the way @nestjs/graphql, gateways and microservices run handlers.
 */
import { Controller, type ExecutionContext, Get, Injectable, type INestApplicationContext } from '@nestjs/common';
import { ExternalContextCreator, NestFactory } from '@nestjs/core';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import {
  type Throttle,
  ThrottleClasses,
  type ThrottleContext,
  ThrottleCost,
  ThrottlingService,
  type TransportBinding,
} from '../../lib/index.js';
import { appPerTest, PLATFORMS } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

/** Lets everything through and writes down the cost each request's context carries. */
@Injectable()
class CostRecorder implements Throttle {
  static readonly seen: (number | undefined)[] = [];
  allowRequest(ctx: ThrottleContext): boolean {
    CostRecorder.seen.push(ctx.cost);
    return true;
  }
}

beforeEach(() => {
  CostRecorder.seen.length = 0;
});

@Controller('reports')
@ThrottleClasses(CostRecorder)
@ThrottleCost(5)
class ReportsController {
  @Get() list() { return 'ok'; }
  @Get('one') @ThrottleCost(2) one() { return 'ok'; }
}

@Controller('free')
@ThrottleClasses(CostRecorder)
class FreeController {
  @Get() get() { return 'ok'; }
}

describe.each(PLATFORMS)('HTTP on %s', (platform) => {
  const apps = appPerTest(platform);

  test("a handler's @ThrottleCost beats its controller's; a route without one leaves ctx.cost unset", async () => {
    const app = await apps.start(testModule({ controllers: [ReportsController, FreeController] }));
    await request(app.getHttpServer()).get('/reports').expect(200);
    await request(app.getHttpServer()).get('/reports/one').expect(200);
    await request(app.getHttpServer()).get('/free').expect(200);
    expect(CostRecorder.seen).toEqual([5, 2, undefined]);
  });
});

/** Handlers of every non-HTTP kind, one per transport, each with a cost. */
@Injectable()
@ThrottleClasses(CostRecorder)
class Handlers {
  @ThrottleCost(3) handle(..._args: unknown[]): string {
    return 'done';
  }

  plain(..._args: unknown[]): string {
    return 'done';
  }
}

/** A binding written before createContext() was given the cost: it builds its context without one. */
class LegacyJobTransport implements TransportBinding {
  constructor(private readonly freeze = false) {}
  requestToken(context: ExecutionContext): object {
    return context.getArgByIndex(0);
  }
  createContext(context: ExecutionContext, scope: string | undefined): ThrottleContext {
    const ctx = { transport: 'job', request: context.getArgByIndex(0), response: undefined, ident: 'tenant', user: undefined, userId: null, scope, controller: context.getClass(), handler: context.getHandler(), method: 'JOB', url: 'job' };
    return this.freeze ? Object.freeze(ctx) : ctx;
  }
  setHeader(): void {}
  throttledError(): Error {
    return new Error('throttled');
  }
}

/** A binding that decides the cost itself. */
class WeighingJobTransport extends LegacyJobTransport {
  override createContext(context: ExecutionContext, scope: string | undefined): ThrottleContext {
    return { ...super.createContext(context, scope), cost: 7 };
  }
}

describe('other transports, through the global guard', () => {
  let app: INestApplicationContext | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(): Promise<void> {
    const transports = { job: new LegacyJobTransport(), frozenjob: new LegacyJobTransport(true), weighedjob: new WeighingJobTransport() };
    app = await NestFactory.createApplicationContext(testModule({ options: { transports }, providers: [Handlers], auth: false }), { logger: false });
  }

  function run(method: 'handle' | 'plain', contextType: string, args: unknown[]): Promise<unknown> {
    const handlers = app!.get(Handlers);
    const creator = app!.get(ExternalContextCreator);
    const options = { guards: true, interceptors: true, filters: false };
    const handler = creator.create(handlers, handlers[method] as (...args: unknown[]) => unknown, method, undefined, undefined, undefined, undefined, options, contextType);
    return Promise.resolve(handler(...args));
  }

  const httpRequest = () => ({ ip: '10.0.0.1', headers: {}, method: 'POST', url: '/graphql' });

  test('GraphQL: a root field', async () => {
    await boot();
    const info = { operation: { operation: 'query' }, parentType: { name: 'Query' }, fieldName: 'report', path: { key: 'report' } };
    await expect(run('handle', 'graphql', [undefined, {}, { req: httpRequest() }, info])).resolves.toBe('done');
    await run('plain', 'graphql', [undefined, {}, { req: httpRequest() }, info]);
    expect(CostRecorder.seen).toEqual([3, undefined]);
  });

  test('WebSockets: a message', async () => {
    await boot();
    const client = { handshake: { address: '10.0.0.2', headers: {} } };
    await expect(run('handle', 'ws', [client, { report: 1 }])).resolves.toBe('done');
    expect(CostRecorder.seen).toEqual([3]);
  });

  test('microservices: a message', async () => {
    await boot();
    await expect(run('handle', 'rpc', [{ user: { id: 'svc-a' } }, { getPattern: () => 'report' }])).resolves.toBe('done');
    expect(CostRecorder.seen).toEqual([3]);
  });

  test("custom transports: the guard sets the cost on a binding's context that leaves it out, frozen or not, and keeps one it set", async () => {
    await boot();
    await run('handle', 'job', [{}]);
    await run('handle', 'frozenjob', [{}]);
    await run('handle', 'weighedjob', [{}]);
    await run('plain', 'job', [{}]);
    expect(CostRecorder.seen).toEqual([3, 3, 7, undefined]);
  });

  test('ThrottlingService: the cost option is the context cost, checked like @ThrottleCost', async () => {
    await boot();
    const service = app!.get(ThrottlingService);
    await service.check({ identity: 'alice' }, CostRecorder, { cost: 4 });
    await service.check({ ip: '10.0.0.3', headers: {}, method: 'GET', url: '/' }, CostRecorder, { cost: 6 });
    await service.check({ identity: 'alice' }, CostRecorder);
    expect(CostRecorder.seen).toEqual([4, 6, undefined]);
    await expect(service.check({ identity: 'alice' }, CostRecorder, { cost: 0 })).rejects.toThrow("ThrottlingService: options.cost: a request's cost must be a positive integer, got 0");
  });
});
