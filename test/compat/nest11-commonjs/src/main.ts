// A Nest 11 app compiled to CommonJS, as `nest new` makes one, using nestjs-throttling from its
// packed package: `require('nestjs-throttling')` loads its CommonJS build.
// It boots on Express and on Fastify, with Apollo GraphQL, a socket.io gateway and a TCP
// microservice, sends requests with real clients, and prints what it saw as one JSON line for
// test/compat/nest11-commonjs.spec.ts to check.
import 'reflect-metadata';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { CacheModule } from '@nestjs/cache-manager';
import { type ArgumentsHost, Catch, Controller, Get, Injectable, type LoggerService, Module, type INestApplication, type ModuleMetadata, UseFilters, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, MessagePattern, type MicroserviceOptions, Payload, Transport } from '@nestjs/microservices';
import { GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { BaseWsExceptionFilter, MessageBody, type OnGatewayConnection, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { firstValueFrom } from 'rxjs';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import {
  AnonThrottle,
  CacheManagerThrottleStore,
  CacheThrottle,
  rememberWsUpgradeRequest,
  ScopedThrottle,
  SimpleRateThrottle,
  type ThrottleContext,
  ThrottleClasses,
  ThrottleScope,
  ThrottlingGuard,
  ThrottlingModule,
  UserThrottle,
} from 'nestjs-throttling';

// A fixed clock: every wait below is exact.
const clock = () => 1_700_000_000_000;

@Injectable()
class ApiKeys {
  tierOf(ident: string): string {
    return ident === '127.0.0.1' || ident === '::1' ? 'local' : 'remote';
  }
}

/** A throttle with a constructor-injected service, which the app does not list as a provider. */
@Injectable()
class TierThrottle extends SimpleRateThrottle {
  override scope = 'tier';
  override rate = '2/min';

  constructor(private readonly keys: ApiKeys) {
    super();
  }

  getCacheKey(ctx: ThrottleContext): string {
    return this.formatKey(this.keys.tierOf(ctx.ident), ctx.ident);
  }
}

@Controller()
class ApiController {
  @Get('limited')
  limited() {
    return 'limited';
  }

  @Get('off')
  @ThrottleClasses()
  off() {
    return 'off';
  }

  @Get('uploads')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  uploads() {
    return 'uploads';
  }

  @Get('uploads-too')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  uploadsToo() {
    return 'uploads-too';
  }

  @Get('tier')
  @ThrottleClasses(TierThrottle)
  tier() {
    return 'tier';
  }

  @Get('user-variant')
  @ThrottleClasses(UserThrottle.with({ scope: 'burst', rate: '1/min' }))
  userVariant() {
    return 'user-variant';
  }
}

@Controller()
class ReportsController {
  @MessagePattern('report')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('reports')
  report(@Payload() data: { clientId: string }) {
    return `report for ${data.clientId}`;
  }
}

@Resolver()
class GreetingResolver {
  @Query(() => String)
  hello(): string {
    return 'hello';
  }
}

// Nest 11 runs no global guard for gateways: each binds ThrottlingGuard itself.
@WebSocketGateway({ namespace: 'chat' })
@UseGuards(ThrottlingGuard)
class ChatGateway {
  @SubscribeMessage('shout')
  @ThrottleClasses(AnonThrottle.with({ scope: 'shout', rate: '1/min' }))
  shout(@MessageBody() text: string) {
    return { shouted: text.toUpperCase() };
  }

  // Tastypie: counted after the handler succeeded, by the interceptor @ThrottleClasses() binds.
  @SubscribeMessage('note')
  @ThrottleClasses(CacheThrottle.with({ throttleAt: 1, timeframe: 60, scope: 'notes' }))
  note(@MessageBody() text: string) {
    return { noted: text };
  }
}

/**
 * Nest 11's BaseWsExceptionFilter calls client.emit('exception'), which a native `ws` socket keeps
 * to itself (Nest 12 sends it): this filter, from the README, sends it as Nest 12 does.
 */
@Catch(WsException)
class WsExceptionsToClient extends BaseWsExceptionFilter {
  override catch(exception: WsException, host: ArgumentsHost) {
    host.switchToWs().getClient<WebSocket>().send(JSON.stringify({ event: 'exception', data: exception.getError() }));
  }
}

/** A `ws` gateway: it hands the upgrade request over, so the client's address is known. */
@WebSocketGateway({ path: '/ws' })
@UseGuards(ThrottlingGuard)
@UseFilters(new WsExceptionsToClient())
class EventsGateway implements OnGatewayConnection {
  handleConnection(client: WebSocket, request: IncomingMessage) {
    rememberWsUpgradeRequest(client, request);
  }

  @SubscribeMessage('ping')
  @ThrottleClasses(AnonThrottle.with({ scope: 'ping', rate: '1/min' }))
  ping() {
    return { event: 'pong', data: 'pong' };
  }
}

/** A gateway that forgot to: ThrottlingModule names it in a warning at boot. */
@WebSocketGateway({ namespace: 'quiet' })
class QuietGateway {
  @SubscribeMessage('whisper')
  whisper(@MessageBody() text: string) {
    return { whispered: text };
  }
}

/** Keeps the warnings an app logs. */
class WarningsLogger implements LoggerService {
  readonly warnings: string[] = [];
  log() {}
  error() {}
  debug() {}
  verbose() {}
  warn(message: unknown, context?: unknown) {
    this.warnings.push(`${String(context)}: ${String(message)}`);
  }
}

@Module({ providers: [ApiKeys], exports: [ApiKeys] })
class KeysModule {}

const throttling = ThrottlingModule.forRoot({
  defaultThrottles: [AnonThrottle],
  rates: { anon: '3/min', uploads: '2/min', reports: '1/min' },
  clock,
  rpcIdentity: 'clientId',
});

/** The same app again, with the counts in the app's cache-manager cache (@nestjs/cache-manager 3). */
const throttlingOnCache = ThrottlingModule.forRootAsync({
  useFactory: () => ({
    defaultThrottles: [AnonThrottle],
    rates: { anon: '3/min', uploads: '2/min' },
    clock,
    store: CacheManagerThrottleStore,
  }),
});

interface Seen {
  status: number;
  body: string;
  headers: Record<string, string | null>;
}

async function get(base: string, path: string): Promise<Seen> {
  const response = await fetch(`${base}${path}`);
  const pick = ['ratelimit', 'ratelimit-policy', 'retry-after'];
  return { status: response.status, body: await response.text(), headers: Object.fromEntries(pick.map((name) => [name, response.headers.get(name)])) };
}

/** Waits until `done()` holds, or two seconds have passed (a message that never comes fails the check that follows). */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
}

async function times(count: number, base: string, path: string): Promise<Seen[]> {
  const seen: Seen[] = [];
  for (let i = 0; i < count; i++) seen.push(await get(base, path));
  return seen;
}

async function httpRun(adapter: 'express' | 'fastify', imports: ModuleMetadata['imports']) {
  @Module({ imports, controllers: [ApiController] })
  class AppModule {}
  const app: INestApplication = await NestFactory.create(AppModule, adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  try {
    return {
      limited: await times(4, base, '/limited'),
      off: await times(5, base, '/off'),
      uploads: [...(await times(1, base, '/uploads')), ...(await times(2, base, '/uploads-too'))],
      tier: await times(3, base, '/tier'),
      userVariant: await times(2, base, '/user-variant'),
    };
  } finally {
    await app.close();
  }
}

async function graphqlRun() {
  @Module({
    imports: [GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true, playground: false }), throttling],
    providers: [GreetingResolver],
  })
  class GraphqlModule {}
  const app = await NestFactory.create(GraphqlModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/graphql`;
  const query = async () => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ hello }' }) });
    return { status: response.status, ratelimit: response.headers.get('ratelimit'), retryAfter: response.headers.get('retry-after'), body: await response.json() };
  };
  try {
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await query());
    return seen;
  } finally {
    await app.close();
  }
}

async function socketIoRun() {
  @Module({ imports: [throttling], providers: [ChatGateway, QuietGateway] })
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
    // A throttled message gets no acknowledgement: Nest emits an `exception` event instead.
    const exceptionAfter = async (event: string, text: string) => {
      const before = exceptions.length;
      socket.emit(event, text);
      await until(() => exceptions.length > before);
      return exceptions[before];
    };
    const first = await socket.timeout(2_000).emitWithAck('shout', 'hi');
    const second = await exceptionAfter('shout', 'again');
    const firstNote = await socket.timeout(2_000).emitWithAck('note', 'one');
    const secondNote = await exceptionAfter('note', 'two');
    return { first, second, firstNote, secondNote, warnings: logger.warnings };
  } finally {
    socket.disconnect();
    await app.close();
  }
}

async function wsRun() {
  @Module({ imports: [throttling], providers: [EventsGateway] })
  class EventsModule {}
  const logger = new WarningsLogger();
  const app = await NestFactory.create(EventsModule, { logger });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const socket = new WebSocket(`${(await app.getUrl()).replace('[::1]', '127.0.0.1').replace('http', 'ws')}/ws`);
  const replies: unknown[] = [];
  socket.on('message', (raw) => replies.push(JSON.parse(String(raw))));
  try {
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    for (let sent = 1; sent <= 2; sent++) {
      socket.send(JSON.stringify({ event: 'ping', data: sent }));
      await until(() => replies.length >= sent);
    }
    return { replies, warnings: logger.warnings };
  } finally {
    socket.close();
    await app.close();
  }
}

async function microserviceRun() {
  @Module({ imports: [throttling], controllers: [ReportsController] })
  class ReportsModule {}
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ReportsModule, { transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 }, logger: false });
  await app.listen();
  const address = (app as unknown as { serverInstance: { server: { address(): { port: number } } } }).serverInstance.server.address();
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: address.port } });
  const send = (clientId: string) => firstValueFrom(client.send('report', { clientId })).then(
    (answer: unknown) => ({ answer }),
    (error: unknown) => ({ error }),
  );
  try {
    return [await send('billing'), await send('billing'), await send('shipping')];
  } finally {
    client.close();
    await app.close();
  }
}

async function main() {
  const report = {
    nestCore: require('@nestjs/core/package.json').version as string,
    typescript: require('typescript/package.json').version as string,
    loadedBy: typeof require === 'function' && typeof module === 'object' ? 'commonjs' : 'esm',
    // The file of the package that `require` picks: its CommonJS build.
    libraryEntry: require.resolve('nestjs-throttling').replace(/^.*[\\/]node_modules[\\/]nestjs-throttling[\\/]/, ''),
    express: await httpRun('express', [KeysModule, throttling]),
    fastify: await httpRun('fastify', [KeysModule, throttling]),
    cacheManager: await httpRun('express', [KeysModule, CacheModule.register({ isGlobal: true }), throttlingOnCache]),
    graphql: await graphqlRun(),
    socketIo: await socketIoRun(),
    ws: await wsRun(),
    microservice: await microserviceRun(),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
