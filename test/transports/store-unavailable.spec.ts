/**
 * A throttle store outage, seen by real clients of every transport. Under `onStoreError: 'deny'`
 * the request is refused as the server's fault, in the transport's own terms (HTTP 503, GraphQL
 * SERVICE_UNAVAILABLE, a ws `exception` event, an RpcException with status 503), never as a 429 /
 * TOO_MANY_REQUESTS; under `onStoreError: 'allow'` the same outage lets every request through.
 */
import { Controller, Get, type INestApplication, type INestMicroservice, Module, type Type } from '@nestjs/common';
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
import { AnonThrottle, ThrottlingModule, type ThrottlingModuleOptions, UserThrottle } from '../../lib/index.js';
import type { HitResult, RecordedHit, ThrottleStore, WindowCheck, WindowState } from '../../lib/core/store.js';
import { STORE_UNAVAILABLE_MESSAGE } from '../../lib/nest/transports/store-unavailable-message.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, startApp } from '../support/http-app.js';
import { freePort } from '../support/free-port.js';

/** A networked store whose server is gone: every call is refused, as a dead Redis would be. */
class UnreachableStore implements ThrottleStore {
  calls = 0;
  hit(_checks: readonly WindowCheck[]): Promise<HitResult[]> {
    return this.refuse();
  }
  record(_hits: readonly RecordedHit[]): Promise<void> {
    return this.refuse();
  }
  peek(_key: string, _windowMs: number): Promise<WindowState> {
    return this.refuse();
  }
  reset(_key: string): Promise<void> {
    return this.refuse();
  }
  private async refuse(): Promise<never> {
    this.calls++;
    throw new Error('connection refused');
  }
}

type Policy = 'deny' | 'allow';

/** The module options of one test: a throttle runs on every request, against a dead store. */
function throttling(policy: Policy, store: ThrottleStore): ThrottlingModuleOptions {
  return { store, onStoreError: policy, defaultThrottles: [AnonThrottle, UserThrottle], rates: { anon: '100/min', user: '100/min' }, clock: new FakeClock().read };
}

function moduleOf(imports: unknown[], parts: { controllers?: Type<unknown>[]; providers?: Type<unknown>[] }): Type<unknown> {
  class OutageAppModule {}
  Module({ imports: imports as never[], ...parts })(OutageAppModule);
  return OutageAppModule;
}

@Controller('contacts')
class ContactsController {
  @Get() list() { return { contacts: ['ada'] }; }
}

@Resolver()
class ContactsResolver {
  @Query(() => Int) contactCount(): number { return 5; }
}

@WebSocketGateway()
class PingGateway {
  @SubscribeMessage('ping') ping(@MessageBody() data: unknown) { return { pong: data }; }
}

@Controller()
class MathController {
  @MessagePattern('sum') sum(@Payload() data: { numbers: number[] }) { return data.numbers.reduce((a, b) => a + b, 0); }
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

describe.each(PLATFORMS)('HTTP on %s with the store down', (platform) => {
  async function boot(policy: Policy) {
    const store = new UnreachableStore();
    app = await startApp(platform, moduleOf([ThrottlingModule.forRoot(throttling(policy, store))], { controllers: [ContactsController] }));
    return { store, get: () => request(app!.getHttpServer()).get('/contacts') };
  }

  test("onStoreError 'deny' answers 503 Service Unavailable with the outage message and a Retry-After of the next probe, never 429", async () => {
    const { store, get } = await boot('deny');
    // The first request finds the store down; the second is refused while the outage lasts. The
    // module probes the store once a second, so that is when to come back.
    for (let i = 0; i < 2; i++) {
      const res = await get();
      expect(res.status).toBe(503);
      expect(res.body.message).toBe(STORE_UNAVAILABLE_MESSAGE);
      expect(res.headers['retry-after']).toBe('1');
    }
    expect(store.calls).toBe(1);
  });

  test("onStoreError 'allow' lets the request through unthrottled, with no RateLimit headers since nothing was counted", async () => {
    const { store, get } = await boot('allow');
    for (let i = 0; i < 2; i++) {
      const res = await get();
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ contacts: ['ada'] });
      // Headers would claim a quota ("r=99") that no store kept.
      expect(res.headers.ratelimit).toBeUndefined();
      expect(res.headers['ratelimit-policy']).toBeUndefined();
    }
    expect(store.calls).toBe(1);
  });
});

describe('GraphQL on Apollo/Express with the store down', () => {
  async function boot(policy: Policy) {
    const store = new UnreachableStore();
    const graphql = GraphQLModule.forRoot({ driver: ApolloDriver, autoSchemaFile: true, graphiql: false, context: ({ req }: { req: unknown }) => ({ req }) } as never);
    app = await startApp('express', moduleOf([ThrottlingModule.forRoot(throttling(policy, store)), graphql], { providers: [ContactsResolver] }));
    const gql = () => request(app!.getHttpServer()).post('/graphql').set('content-type', 'application/json').send({ query: '{ contactCount }' });
    return { store, gql };
  }

  test("onStoreError 'deny' answers the error code SERVICE_UNAVAILABLE, never TOO_MANY_REQUESTS", async () => {
    const { store, gql } = await boot('deny');
    const res = await gql();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].message).toBe(STORE_UNAVAILABLE_MESSAGE);
    expect(res.body.errors[0].extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfter: 1 });
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.data).toBeNull();
    expect(store.calls).toBe(1);
  });

  test("onStoreError 'allow' resolves the query", async () => {
    const { store, gql } = await boot('allow');
    const res = await gql().expect(200);
    expect(res.body).toEqual({ data: { contactCount: 5 } });
    expect(store.calls).toBe(1);
  });
});

describe('socket.io gateway with the store down', () => {
  async function boot(policy: Policy) {
    const store = new UnreachableStore();
    const testing = await Test.createTestingModule({ imports: [moduleOf([ThrottlingModule.forRoot(throttling(policy, store))], { providers: [PingGateway] })] }).compile();
    app = testing.createNestApplication(new ExpressAdapter(), { logger: false });
    app.useWebSocketAdapter(new IoAdapter(app));
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket!.once('connect', () => resolve());
      socket!.once('connect_error', reject);
    });
    const call = (data: unknown) =>
      new Promise<{ ok?: unknown; exception?: unknown }>((resolve) => {
        const onException = (exception: unknown) => resolve({ exception });
        socket!.once('exception', onException);
        socket!.emit('ping', data, (ok: unknown) => {
          socket!.off('exception', onException);
          resolve({ ok });
        });
      });
    return { store, call };
  }

  test("onStoreError 'deny' emits the exception event { status: 'error', message, retryAfter } with the seconds to the next probe", async () => {
    const { store, call } = await boot('deny');
    expect(await call(1)).toEqual({ exception: { status: 'error', message: STORE_UNAVAILABLE_MESSAGE, retryAfter: 1 } });
    expect(await call(2)).toEqual({ exception: { status: 'error', message: STORE_UNAVAILABLE_MESSAGE, retryAfter: 1 } });
    expect(store.calls).toBe(1);
  });

  test("onStoreError 'allow' acknowledges the message", async () => {
    const { store, call } = await boot('allow');
    expect(await call(1)).toEqual({ ok: { pong: 1 } });
    expect(store.calls).toBe(1);
  });
});


describe('TCP microservice with the store down', () => {
  async function boot(policy: Policy) {
    const store = new UnreachableStore();
    const port = await freePort();
    const options = { ...throttling(policy, store), rpcIdentity: 'clientId' };
    const testing = await Test.createTestingModule({ imports: [moduleOf([ThrottlingModule.forRoot(options)], { controllers: [MathController] })] }).compile();
    microservice = testing.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
    await microservice.listen();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
    const send = async (data: object): Promise<{ ok?: unknown; error?: unknown }> => {
      try {
        return { ok: await firstValueFrom(client!.send('sum', data)) };
      } catch (error) {
        return { error };
      }
    };
    return { store, send };
  }

  test("onStoreError 'deny' fails the call with { status: 503, message, retryAfter }, never 429", async () => {
    const { store, send } = await boot('deny');
    expect(await send({ clientId: 'billing', numbers: [1, 2] })).toEqual({ error: { status: 503, message: STORE_UNAVAILABLE_MESSAGE, retryAfter: 1 } });
    expect(await send({ clientId: 'billing', numbers: [1, 2] })).toEqual({ error: { status: 503, message: STORE_UNAVAILABLE_MESSAGE, retryAfter: 1 } });
    expect(store.calls).toBe(1);
  });

  test("onStoreError 'allow' answers the call", async () => {
    const { store, send } = await boot('allow');
    expect(await send({ clientId: 'billing', numbers: [1, 2] })).toEqual({ ok: 3 });
    expect(store.calls).toBe(1);
  });
});
