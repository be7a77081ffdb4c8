/**
 * WebSocket gateways behind the global guard, with real clients: socket.io-client against a
 * @nestjs/platform-socket.io gateway and a `ws` client against a @nestjs/platform-ws gateway.
 * One message is one request; the throttled message gets Nest's `exception` event with retryAfter.
 */
import { type INestApplication, Logger, Module, type Type, UseGuards } from '@nestjs/common';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { ExpressAdapter } from '@nestjs/platform-express';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { Test } from '@nestjs/testing';
import { MessageBody, type OnGatewayConnection, type OnGatewayInit, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { AnonThrottle, rememberWsUpgradeRequest, ScopedThrottle, ThrottleClasses, ThrottleScope, ThrottlingGuard, ThrottlingModule, type ThrottlingModuleOptions, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError } from '../support/http-app.js';
import { SuccessLogThrottle } from './support/success-log.throttle.js';

/** socket.io: an auth middleware puts the user in `client.data.user`, socket.io's per-socket store. */
@WebSocketGateway()
class IoChatGateway implements OnGatewayInit {
  afterInit(server: any): void {
    server.use((socket: any, next: () => void) => {
      const user = socket.handshake.auth?.user;
      if (typeof user === 'string') socket.data.user = { id: user };
      next();
    });
  }

  @SubscribeMessage('ping') ping(@MessageBody() data: unknown) { return { pong: data }; }

  @SubscribeMessage('logged')
  @ThrottleClasses(SuccessLogThrottle)
  logged(@MessageBody() fail: boolean) {
    if (fail) throw new WsException('failed on purpose');
    return { logged: true };
  }

  @SubscribeMessage('upload')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  upload() { return { uploaded: true }; }
}

/** ws: the gateway authenticates in handleConnection and hands over the upgrade request. */
@WebSocketGateway({ path: '/ws' })
class WsChatGateway implements OnGatewayConnection {
  handleConnection(client: any, request: any): void {
    rememberWsUpgradeRequest(client, request);
    const user = new URL(request.url, 'http://localhost').searchParams.get('user');
    if (user) client.user = { id: user };
  }

  @SubscribeMessage('ping') ping(@MessageBody() data: unknown) { return { event: 'pong', data: { pong: data } }; }

  @SubscribeMessage('logged')
  @ThrottleClasses(SuccessLogThrottle)
  logged(@MessageBody() fail: boolean) {
    if (fail) throw new WsException('failed on purpose');
    return { event: 'logged', data: { logged: true } };
  }

  @SubscribeMessage('upload')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  upload() { return { event: 'uploaded', data: { uploaded: true } }; }
}

interface Reply {
  readonly ok?: unknown;
  readonly exception?: { status: string; message: string; retryAfter: number | null };
}

interface Client {
  call(event: string, data?: unknown): Promise<Reply>;
  close(): void;
}

interface Kind {
  readonly name: string;
  readonly gateway: Type<unknown>;
  adapter(app: INestApplication): any;
  connect(port: number, user?: string, forwardedFor?: string): Promise<Client>;
}

const socketIo: Kind = {
  name: 'socket.io',
  gateway: IoChatGateway,
  adapter: (app) => new IoAdapter(app),
  async connect(port, user, forwardedFor) {
    const socket: Socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      auth: user === undefined ? {} : { user },
      extraHeaders: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return {
      call: (event, data) =>
        new Promise((resolve) => {
          const onException = (exception: Reply['exception']) => resolve({ exception });
          socket.once('exception', onException);
          socket.emit(event, data, (ok: unknown) => {
            socket.off('exception', onException);
            resolve({ ok });
          });
        }),
      close: () => socket.close(),
    };
  },
};

const nativeWs: Kind = {
  name: 'ws',
  gateway: WsChatGateway,
  adapter: (app) => new WsAdapter(app),
  async connect(port, user, forwardedFor) {
    const url = `ws://127.0.0.1:${port}/ws${user === undefined ? '' : `?user=${user}`}`;
    const socket = new WebSocket(url, { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return {
      call: (event, data) =>
        new Promise((resolve) => {
          socket.once('message', (raw) => {
            const message = JSON.parse(String(raw));
            resolve(message.event === 'exception' ? { exception: message.data } : { ok: message.data });
          });
          socket.send(JSON.stringify({ event, data }));
        }),
      close: () => socket.close(),
    };
  },
};

describe.each([socketIo, nativeWs])('$name gateway', (kind) => {
  let app: INestApplication | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await app?.close();
    app = undefined;
  });

  async function boot(options: ThrottlingModuleOptions = {}, gateway: Type<unknown> = kind.gateway) {
    const clock = new FakeClock();
    const rates = { anon: '3/min', user: '3/min', uploads: '1/min', ...options.rates };
    class GatewayAppModule {}
    Module({
      imports: [ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle, UserThrottle], clock: clock.read, ...options, rates })],
      providers: [gateway],
    })(GatewayAppModule);
    const testing = await Test.createTestingModule({ imports: [GatewayAppModule] }).compile();
    app = testing.createNestApplication(new ExpressAdapter(), { logger: false });
    app.useWebSocketAdapter(kind.adapter(app));
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const connect = async (user?: string, forwardedFor?: string) => {
      const client = await kind.connect(port, user, forwardedFor);
      clients.push(client);
      return client;
    };
    return { clock, connect };
  }

  const throttled = (retryAfter: number) => ({
    exception: { status: 'error', message: `Request was throttled. Expected available in ${retryAfter} ${retryAfter === 1 ? 'second' : 'seconds'}.`, retryAfter },
  });

  test('the fourth message in a minute gets the throttled exception with retryAfter', async () => {
    const { connect } = await boot();
    const client = await connect();
    for (let i = 0; i < 3; i++) expect(await client.call('ping', i)).toEqual({ ok: { pong: i } });
    expect(await client.call('ping', 3)).toEqual(throttled(60));
  });

  test('a gateway that also binds ThrottlingGuard itself (as Nest 11 requires) counts each message once', async () => {
    class GuardedGateway extends (kind.gateway as Type<object>) {}
    UseGuards(ThrottlingGuard)(GuardedGateway);
    const { connect } = await boot({}, GuardedGateway);
    const client = await connect();
    for (let i = 0; i < 3; i++) expect(await client.call('ping', i)).toEqual({ ok: { pong: i } });
    expect(await client.call('ping', 3)).toEqual(throttled(60));
  });

  test('every message counts, on one connection as on several', async () => {
    const { connect } = await boot({ rates: { anon: '4/min', user: '4/min' } });
    const first = await connect();
    const second = await connect();
    // Both connections come from 127.0.0.1 and no proxy is trusted: one anonymous client.
    expect((await first.call('ping', 1)).ok).toBeDefined();
    expect((await second.call('ping', 2)).ok).toBeDefined();
    expect((await first.call('ping', 3)).ok).toBeDefined();
    expect((await second.call('ping', 4)).ok).toBeDefined();
    expect(await first.call('ping', 5)).toEqual(throttled(60));
    expect(await second.call('ping', 6)).toEqual(throttled(60));
  });

  test('other clients are unaffected: numProxies reads the handshake X-Forwarded-For', async () => {
    const { connect } = await boot({ numProxies: 1 });
    const a = await connect(undefined, '203.0.113.1');
    const b = await connect(undefined, '203.0.113.2');
    for (let i = 0; i < 3; i++) expect((await a.call('ping', i)).ok).toBeDefined();
    expect(await a.call('ping', 3)).toEqual(throttled(60));
    for (let i = 0; i < 3; i++) expect((await b.call('ping', i)).ok).toBeDefined();
    // A client cannot escape by writing its own address left of the proxy's.
    const spoofing = await connect(undefined, '198.51.100.7, 203.0.113.1');
    expect(await spoofing.call('ping', 0)).toEqual(throttled(60));
  });

  test('IPv6 clients are counted per /64 and trustedProxies picks the client from the handshake X-Forwarded-For', async () => {
    const { connect } = await boot({ trustedProxies: ['127.0.0.1', '10.0.0.0/8'] });
    const first = await connect(undefined, '2001:db8:1:2::1, 10.0.0.5');
    const sameSubnet = await connect(undefined, '198.51.100.9, 2001:DB8:1:2:ffff::2');
    for (let i = 0; i < 3; i++) expect((await first.call('ping', i)).ok).toBeDefined();
    expect(await sameSubnet.call('ping', 3)).toEqual(throttled(60));
    expect((await (await connect(undefined, '2001:db8:1:3::1')).call('ping', 0)).ok).toBeDefined();
  });

  test('a handshake with X-Forwarded-For and no proxy option: the app is warned once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const { connect } = await boot();
      for (const address of ['203.0.113.1', '203.0.113.2']) expect((await (await connect(undefined, address)).call('ping', 0)).ok).toBeDefined();
      expect(warn.mock.calls.filter((call) => String(call[0]).includes('X-Forwarded-For'))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  test('ipv6Subnet: false and numProxies: one bucket per IPv6 address', async () => {
    const { connect } = await boot({ numProxies: 1, ipv6Subnet: false });
    const first = await connect(undefined, '2001:db8:1:2::1');
    for (let i = 0; i < 3; i++) expect((await first.call('ping', i)).ok).toBeDefined();
    expect(await first.call('ping', 3)).toEqual(throttled(60));
    expect((await (await connect(undefined, '2001:db8:1:2::2')).call('ping', 0)).ok).toBeDefined();
  });

  test('each user has their own bucket, whatever the address', async () => {
    const { connect } = await boot();
    const alice = await connect('alice');
    const bob = await connect('bob');
    for (let i = 0; i < 3; i++) expect((await alice.call('ping', i)).ok).toBeDefined();
    expect(await alice.call('ping', 3)).toEqual(throttled(60));
    for (let i = 0; i < 3; i++) expect((await bob.call('ping', i)).ok).toBeDefined();
    // Anonymous clients from the same address are counted apart from the users.
    expect((await (await connect()).call('ping', 0)).ok).toBeDefined();
  });

  test('a scoped message has its own bucket', async () => {
    const { connect } = await boot();
    const alice = await connect('alice');
    expect((await alice.call('upload')).ok).toEqual({ uploaded: true });
    expect(await alice.call('upload')).toEqual(throttled(60));
    for (let i = 0; i < 3; i++) expect((await alice.call('ping', i)).ok).toBeDefined();
    expect((await (await connect('bob')).call('upload')).ok).toEqual({ uploaded: true });
  });

  test('retryAfter follows DRF: 3/min at t=0, 20, 40 waits 20 s; at t=70, 10 s', async () => {
    const { connect, clock } = await boot();
    const client = await connect('alice');
    for (const t of [0, 20, 40]) {
      clock.set(t);
      expect((await client.call('ping', t)).ok).toBeDefined();
    }
    expect(await client.call('ping', 40)).toEqual(throttled(20));
    clock.set(60);
    expect((await client.call('ping', 60)).ok).toBeDefined();
    clock.set(70);
    expect(await client.call('ping', 70)).toEqual(throttled(10));
  });

  test('accessed() runs once per message whose handler succeeded (Tastypie)', async () => {
    const { connect } = await boot();
    SuccessLogThrottle.entries.length = 0;
    const alice = await connect('alice');
    expect((await alice.call('logged', false)).ok).toEqual({ logged: true });
    expect((await alice.call('logged', true)).exception?.message).toBe('failed on purpose');
    expect((await alice.call('logged', false)).ok).toEqual({ logged: true });
    expect(SuccessLogThrottle.entries).toEqual(['ws logged alice', 'ws logged alice']);
  });
});

/** A ws gateway that does not hand over its upgrade requests. */
@WebSocketGateway({ path: '/bare' })
class BareWsGateway {
  @SubscribeMessage('ping') ping() { return { event: 'pong', data: 'pong' }; }
}

describe('ws gateway without rememberWsUpgradeRequest()', () => {
  let app: INestApplication | undefined;
  let socket: WebSocket | undefined;
  afterEach(async () => {
    socket?.close();
    await app?.close();
    app = socket = undefined;
  });

  async function boot(options: ThrottlingModuleOptions, errors: unknown[] = []) {
    class BareAppModule {}
    Module({ imports: [ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle], rates: { anon: '3/min' }, clock: new FakeClock().read, ...options })], providers: [BareWsGateway] })(BareAppModule);
    const testing = await Test.createTestingModule({ imports: [BareAppModule] }).compile();
    const quiet = () => undefined;
    app = testing.createNestApplication(new ExpressAdapter(), { logger: { log: quiet, warn: quiet, debug: quiet, verbose: quiet, error: (error: unknown) => errors.push(error) } });
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
    socket = new WebSocket(`ws://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/bare`);
    await new Promise((resolve) => socket!.once('open', resolve));
    return () =>
      new Promise<any>((resolve) => {
        socket!.once('message', (raw) => resolve(JSON.parse(String(raw))));
        socket!.send(JSON.stringify({ event: 'ping' }));
      });
  }

  test('the socket address identifies the client when no proxy is trusted', async () => {
    const ping = await boot({});
    for (let i = 0; i < 3; i++) expect(await ping()).toEqual({ event: 'pong', data: 'pong' });
    expect((await ping()).data).toMatchObject({ status: 'error', retryAfter: 60 });
  });

  test('with numProxies the message is refused and the log says how to fix it, rather than pooling everyone behind the proxy', async () => {
    const errors: unknown[] = [];
    const ping = await boot({ numProxies: 1 }, errors);
    expect((await ping()).data).toMatchObject({ status: 'error', message: 'Internal server error' });
    expect(String(errors[0])).toContain('numProxies is 1 but this ws gateway did not hand over the upgrade request; call rememberWsUpgradeRequest(client, request) in its handleConnection(client, request)');
  });
});

describe('boot-time checks of gateways', () => {
  /** The boot error of an app with this gateway alone and these module options. */
  function gatewayBootError(gateway: Function, options: ThrottlingModuleOptions) {
    @Module({ imports: [ThrottlingModule.forRoot(options)], providers: [gateway as never] })
    class GatewayModule {}
    return bootError(GatewayModule);
  }

  test('a gateway throttled at class level only is checked at boot: a scope without a rate fails it', async () => {
    @WebSocketGateway()
    @ThrottleClasses(ScopedThrottle)
    @ThrottleScope('chat')
    class ClassLevelGateway {
      @SubscribeMessage('say') say() { return { said: true }; }
    }
    const error = await gatewayBootError(ClassLevelGateway, { rates: { anon: '3/min' } });
    expect(error?.message).toMatch(/ClassLevelGateway\.say: ScopedThrottle uses scope 'chat', which has no rate/);
  });

  test('a gateway throttled on one of its methods only is checked at boot, not at its first message', async () => {
    @WebSocketGateway()
    class MethodLevelGateway {
      @SubscribeMessage('say') say() { return { said: true }; }
      @SubscribeMessage('upload') @ThrottleClasses(ScopedThrottle) @ThrottleScope('uploads') upload() { return { uploaded: true }; }
    }
    const error = await gatewayBootError(MethodLevelGateway, { rates: { anon: '3/min' } });
    expect(error?.message).toMatch(/MethodLevelGateway\.upload: ScopedThrottle uses scope 'uploads', which has no rate/);
  });

  test('a gateway method with only @ThrottleScope, under default ScopedThrottle, is checked at boot', async () => {
    @WebSocketGateway()
    class ScopeOnlyGateway {
      @SubscribeMessage('upload') @ThrottleScope('uploads') upload() { return { uploaded: true }; }
    }
    const error = await gatewayBootError(ScopeOnlyGateway, { defaultThrottles: [ScopedThrottle], rates: { anon: '3/min' } });
    expect(error?.message).toMatch(/ScopeOnlyGateway\.upload: ScopedThrottle uses scope 'uploads', which has no rate/);
  });
});
