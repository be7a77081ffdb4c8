/**
 * errorFormat 'problem': a throttled request (and a store outage under onStoreError 'deny') answered
 * with RFC 9457 problem details, the IETF rate-limit draft's quota-exceeded type, seen by real
 * clients of every transport; errorFormat 'nest' (the default) keeps Nest's body byte for byte.
 */
import { type ArgumentsHost, Catch, Controller, type ExceptionFilter, Get, type INestApplication, type INestMicroservice, Injectable, Module, Res, type Type } from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { afterEach, describe, expect, test } from '@jest/globals';
import { ApolloDriver } from '@nestjs/apollo';
import { Int, GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { type ClientProxy, ClientProxyFactory, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { ExpressAdapter } from '@nestjs/platform-express';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { Test } from '@nestjs/testing';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { AddressInfo } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import { AnonThrottle, ThrottleClasses, ThrottledException, ThrottlingModule, type ThrottlingModuleOptions, ThrottlingService, UserThrottle } from '../../lib/index.js';
import type { HitResult, RecordedHit, ThrottleStore, WindowCheck, WindowState } from '../../lib/core/store.js';
import { STORE_UNAVAILABLE_MESSAGE } from '../../lib/nest/transports/store-unavailable-message.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, startApp } from '../support/http-app.js';
import { freePort } from '../support/free-port.js';
import { testModule } from '../support/test-app.js';

const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
const TITLE = 'Request cannot be satisfied as assigned quota has been exceeded';

/** The quota-exceeded problem of a 60-second wait, as every transport carries it. */
function quotaExceeded(violated: string[], retryAfter = 60) {
  return { type: QUOTA_EXCEEDED, title: TITLE, status: 429, detail: `Request was throttled. Expected available in ${retryAfter} seconds.`, 'violated-policies': violated, retryAfter };
}

const OUTAGE = { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: STORE_UNAVAILABLE_MESSAGE, retryAfter: 1 };

/** A networked store whose server is gone: every call is refused. */
class UnreachableStore implements ThrottleStore {
  hit(_checks: readonly WindowCheck[]): Promise<HitResult[]> { return this.refuse(); }
  record(_hits: readonly RecordedHit[]): Promise<void> { return this.refuse(); }
  peek(_key: string, _windowMs: number): Promise<WindowState> { return this.refuse(); }
  reset(_key: string): Promise<void> { return this.refuse(); }
  private async refuse(): Promise<never> { throw new Error('connection refused'); }
}

@Controller()
class QuotaController {
  @Get('once') @ThrottleClasses(UserThrottle.with({ scope: 'once', rate: '1/min' })) once() { return 'ok'; }
  @Get('both') @ThrottleClasses(UserThrottle.with({ scope: 'burst', rate: '1/min' }), UserThrottle.with({ scope: 'daily', rate: '1/min' })) both() { return 'ok'; }
  @Get('one-of-two') @ThrottleClasses(UserThrottle.with({ scope: 'minute', rate: '1/min' }), UserThrottle.with({ scope: 'hourly', rate: '100/min' })) oneOfTwo() { return 'ok'; }
}

/** A manual check on a route the guard leaves alone: ThrottlingService.enforce() answers as the guard does. */
@Controller()
class ManualController {
  constructor(private readonly throttling: ThrottlingService) {}
  @Get('manual') @ThrottleClasses() async manual(@Res({ passthrough: true }) response: unknown) {
    await this.throttling.enforce({ identity: 'support-desk' }, { scope: 'exports', rate: '1/min' }, { response });
    return 'ok';
  }
}

/** A filter of the app's own that catches ThrottledException: its `wait` and status still hold. */
@Catch(ThrottledException)
@Injectable()
class WaitReadingFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}
  catch(exception: ThrottledException, host: ArgumentsHost): void {
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), { wait: exception.wait, status: exception.getStatus(), message: exception.message }, exception.getStatus());
  }
}

let app: INestApplication | undefined;
let microservice: INestMicroservice | undefined;
let socket: Socket | undefined;
let client: ClientProxy | undefined;
afterEach(async () => {
  socket?.close();
  await client?.close();
  await microservice?.close();
  await app?.close();
  app = microservice = socket = client = undefined;
});

function moduleOf(imports: unknown[], parts: { controllers?: Type<unknown>[]; providers?: Type<unknown>[] }): Type<unknown> {
  class ProblemAppModule {}
  Module({ imports: imports as never[], ...parts })(ProblemAppModule);
  return ProblemAppModule;
}

describe.each(PLATFORMS)('HTTP on %s', (platform) => {
  async function boot(options: ThrottlingModuleOptions, providers: never[] = []) {
    app = await startApp(platform, testModule({ options: { clock: new FakeClock().read, ...options }, controllers: [QuotaController, ManualController], providers }));
    return (path: string) => request(app!.getHttpServer()).get(path);
  }

  test("errorFormat 'problem' answers 429 application/problem+json with the quota-exceeded type, DRF's message as detail, and Retry-After", async () => {
    const get = await boot({ errorFormat: 'problem' });
    await get('/once').expect(200);
    const res = await get('/once');
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json(; charset=utf-8)?$/);
    expect(JSON.parse(res.text)).toEqual(quotaExceeded(['once']));
    expect(res.headers['retry-after']).toBe('60');
  });

  test('violated-policies names every policy that denied, and only those', async () => {
    const get = await boot({ errorFormat: 'problem' });
    await get('/both').expect(200);
    expect(JSON.parse((await get('/both')).text)['violated-policies']).toEqual(['burst', 'daily']);
    await get('/one-of-two').expect(200);
    expect(JSON.parse((await get('/one-of-two')).text)['violated-policies']).toEqual(['minute']);
  });

  test("the default errorFormat 'nest' sends Nest's body byte for byte, as application/json", async () => {
    for (const options of [{}, { errorFormat: 'nest' as const }]) {
      const get = await boot(options);
      await get('/once').expect(200);
      const res = await get('/once');
      expect(res.status).toBe(429);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.text).toBe('{"statusCode":429,"error":"Too Many Requests","message":"Request was throttled. Expected available in 60 seconds."}');
      await app!.close();
      app = undefined;
    }
  });

  test("an app's filter for ThrottledException still gets its wait and 429 under errorFormat 'problem'", async () => {
    const get = await boot({ errorFormat: 'problem' }, [{ provide: APP_FILTER, useClass: WaitReadingFilter } as never]);
    await get('/once').expect(200);
    const res = await get('/once');
    expect(res.status).toBe(429);
    expect(JSON.parse(res.text)).toEqual({ wait: 60, status: 429, message: 'Request was throttled. Expected available in 60 seconds.' });
  });

  test("ThrottlingService.enforce() throws the same problem, typed on the response it is given", async () => {
    const get = await boot({ errorFormat: 'problem' });
    await get('/manual').expect(200);
    const res = await get('/manual');
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json(; charset=utf-8)?$/);
    expect(JSON.parse(res.text)).toEqual(quotaExceeded(['exports']));
  });

  test("a store outage under onStoreError 'deny' answers 503 application/problem+json with retryAfter", async () => {
    const options = { errorFormat: 'problem', store: new UnreachableStore(), onStoreError: 'deny', defaultThrottles: [AnonThrottle], rates: { anon: '100/min' } } as const;
    app = await startApp(platform, testModule({ options: { clock: new FakeClock().read, ...options }, controllers: [QuotaController, ManualController], auth: false }));
    // The guard's check, then ThrottlingService.enforce()'s on a route the guard leaves alone.
    for (const path of ['/once', '/manual']) {
      const res = await request(app.getHttpServer()).get(path);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json(; charset=utf-8)?$/);
      expect(JSON.parse(res.text)).toEqual(OUTAGE);
      expect(res.headers['retry-after']).toBe('1');
    }
  });
});

@Resolver()
class CountResolver {
  @Query(() => Int) contactCount(): number { return 5; }
}

describe('GraphQL on Apollo/Express', () => {
  async function boot(options: ThrottlingModuleOptions) {
    const graphql = GraphQLModule.forRoot({ driver: ApolloDriver, autoSchemaFile: true, graphiql: false, context: ({ req }: { req: unknown }) => ({ req }) } as never);
    app = await startApp('express', moduleOf([ThrottlingModule.forRoot({ clock: new FakeClock().read, defaultThrottles: [AnonThrottle], rates: { anon: '1/min' }, ...options }), graphql], { providers: [CountResolver] }));
    return () => request(app!.getHttpServer()).post('/graphql').set('content-type', 'application/json').send({ query: '{ contactCount }' });
  }

  test("errorFormat 'problem' puts the problem's members into the error's extensions, beside code", async () => {
    const gql = await boot({ errorFormat: 'problem' });
    expect((await gql()).body).toEqual({ data: { contactCount: 5 } });
    const res = await gql();
    expect(res.body.errors[0].message).toBe('Request was throttled. Expected available in 60 seconds.');
    expect(res.body.errors[0].extensions).toEqual({ code: 'TOO_MANY_REQUESTS', ...quotaExceeded(['anon']) });
  });

  test("the default keeps extensions { code, retryAfter }", async () => {
    const gql = await boot({});
    await gql();
    expect((await gql()).body.errors[0].extensions).toEqual({ code: 'TOO_MANY_REQUESTS', retryAfter: 60 });
  });

  test("a store outage under 'deny' carries the 503 problem in extensions", async () => {
    const gql = await boot({ errorFormat: 'problem', store: new UnreachableStore(), onStoreError: 'deny' });
    const res = await gql();
    expect(res.body.errors[0].extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', ...OUTAGE });
  });
});

@WebSocketGateway()
class PingGateway {
  @SubscribeMessage('ping') ping(@MessageBody() data: unknown) { return { pong: data }; }
}

describe('socket.io gateway', () => {
  async function boot(options: ThrottlingModuleOptions) {
    const throttling = ThrottlingModule.forRoot({ clock: new FakeClock().read, defaultThrottles: [AnonThrottle], rates: { anon: '1/min' }, ...options });
    const testing = await Test.createTestingModule({ imports: [moduleOf([throttling], { providers: [PingGateway] })] }).compile();
    app = testing.createNestApplication(new ExpressAdapter(), { logger: false });
    app.useWebSocketAdapter(new IoAdapter(app));
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket!.once('connect', () => resolve());
      socket!.once('connect_error', reject);
    });
    return (data: unknown) =>
      new Promise<{ ok?: unknown; exception?: unknown }>((resolve) => {
        const onException = (exception: unknown) => resolve({ exception });
        socket!.once('exception', onException);
        socket!.emit('ping', data, (ok: unknown) => {
          socket!.off('exception', onException);
          resolve({ ok });
        });
      });
  }

  test("errorFormat 'problem' emits the problem's members, with message, as the exception event", async () => {
    const call = await boot({ errorFormat: 'problem' });
    expect(await call(1)).toEqual({ ok: { pong: 1 } });
    const problem = quotaExceeded(['anon']);
    expect(await call(2)).toEqual({ exception: { ...problem, message: problem.detail } });
  });

  test("a store outage under 'deny' emits the 503 problem", async () => {
    const call = await boot({ errorFormat: 'problem', store: new UnreachableStore(), onStoreError: 'deny' });
    expect(await call(1)).toEqual({ exception: { ...OUTAGE, message: STORE_UNAVAILABLE_MESSAGE } });
  });
});

@Controller()
class MathController {
  @MessagePattern('sum') sum(@Payload() data: { numbers: number[] }) { return data.numbers.reduce((a, b) => a + b, 0); }
}

describe('TCP microservice', () => {
  async function boot(options: ThrottlingModuleOptions) {
    const port = await freePort();
    const throttling = ThrottlingModule.forRoot({ clock: new FakeClock().read, rpcIdentity: 'clientId', defaultThrottles: [AnonThrottle], rates: { anon: '1/min' }, ...options });
    const testing = await Test.createTestingModule({ imports: [moduleOf([throttling], { controllers: [MathController] })] }).compile();
    microservice = testing.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
    await microservice.listen();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
    return async (data: object): Promise<{ ok?: unknown; error?: unknown }> => {
      try {
        return { ok: await firstValueFrom(client!.send('sum', data)) };
      } catch (error) {
        return { error };
      }
    };
  }

  test("errorFormat 'problem' fails the call with the problem's members, with message", async () => {
    const send = await boot({ errorFormat: 'problem' });
    expect(await send({ clientId: 'billing', numbers: [1, 2] })).toEqual({ ok: 3 });
    const problem = quotaExceeded(['anon']);
    expect(await send({ clientId: 'billing', numbers: [1, 2] })).toEqual({ error: { ...problem, message: problem.detail } });
  });

  test("a store outage under 'deny' fails the call with the 503 problem", async () => {
    const send = await boot({ errorFormat: 'problem', store: new UnreachableStore(), onStoreError: 'deny' });
    expect(await send({ clientId: 'billing', numbers: [1, 2] })).toEqual({ error: { ...OUTAGE, message: STORE_UNAVAILABLE_MESSAGE } });
  });
});

describe('boot validation', () => {
  test('an unknown errorFormat fails the boot, naming the value', async () => {
    const error = await bootError(testModule({ options: { errorFormat: 'rfc9457' as never } }));
    expect(error?.message).toBe("ThrottlingModule: errorFormat must be 'nest' or 'problem', got 'rfc9457'");
  });
});
