/**
 * GraphQL resolvers behind the global guard, through real HTTP and real graphql-ws clients: Apollo
 * on Express, Apollo on Fastify and Mercurius on Fastify. Queries and mutations count, one operation counts once whatever its root fields, field
 * resolvers do not count unless decorated, and the throttled error speaks GraphQL.
 */
import { type CanActivate, type DynamicModule, type ExecutionContext, type INestApplication, Injectable, Module, type Type, UseGuards } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Args, Field, ID, Int, Mutation, ObjectType, Parent, Query, ResolveField, Resolver, GraphQLModule, Subscription } from '@nestjs/graphql';
import { createClient } from 'graphql-ws';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import request from 'supertest';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AnonThrottle, ScopedThrottle, ThrottleClasses, ThrottleScope, ThrottlingModule, type ThrottlingModuleOptions, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { type Platform, startApp } from '../support/http-app.js';
import { SuccessLogThrottle } from './support/success-log.throttle.js';

// Mercurius requires @fastify/static (for its GraphiQL page, off here), whose ESM-only dependency Jest
// cannot require() on Node 20; a plugin that is never registered stands in for it.
jest.mock('@fastify/static', () => Object.assign(async () => undefined, { default: async () => undefined }));
const { ApolloDriver } = await import('@nestjs/apollo');
const { MercuriusDriver } = await import('@nestjs/mercurius');

@ObjectType()
class Contact {
  @Field(() => ID) id!: string;
  @Field() name!: string;
}

const CONTACTS: Contact[] = [1, 2, 3, 4, 5].map((n) => ({ id: String(n), name: `contact ${n}` }));
let friendCalls = 0;
let tagCalls = 0;

@Resolver(() => Contact)
class ContactsResolver {
  @Query(() => [Contact]) contacts(): Contact[] { return CONTACTS; }
  @Query(() => Int) contactCount(): number { return CONTACTS.length; }
  @Mutation(() => Contact) addContact(@Args('name') name: string): Contact { return { id: '6', name }; }

  @Mutation(() => Boolean)
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  uploadPhoto(): boolean { return true; }

  @Query(() => Boolean)
  @ThrottleClasses()
  health(): boolean { return true; }

  @Mutation(() => Boolean)
  @ThrottleClasses(SuccessLogThrottle)
  logged(@Args('fail') fail: boolean): boolean {
    if (fail) throw new Error('failed on purpose');
    return true;
  }

  // A subscription is a stream, not a request: not counted unless decorated.
  @Subscription(() => String) ticks() { return oneEvent('ticks', 'tick'); }

  @Subscription(() => String)
  @ThrottleClasses(UserThrottle.with({ scope: 'alerts', rate: '1/min' }))
  alerts() { return oneEvent('alerts', 'alert'); }

  // Runs once per contact: never a request of its own.
  @ResolveField(() => Int) friends(@Parent() contact: Contact): number { friendCalls++; return Number(contact.id) * 2; }

  // Decorated: throttled on its own bucket, once per operation however many contacts it resolves.
  @ResolveField(() => [String])
  @ThrottleClasses(UserThrottle.with({ scope: 'tags', rate: '2/min' }))
  tags(): string[] { tagCalls++; return ['a']; }
}

/** A subscription source that publishes one event and ends. */
async function* oneEvent(field: string, value: string) {
  yield { [field]: value };
}

/** An auth guard bound on the resolver, as apps usually do: it runs after the global guards. */
@Injectable()
class ResolverAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const gqlContext = context.getArgByIndex(2);
    const req = gqlContext.req ?? gqlContext.reply?.request;
    const id = req.headers['x-guard-user'];
    if (typeof id === 'string') req.user = { id };
    return true;
  }
}

@Resolver()
@UseGuards(ResolverAuthGuard)
class GuardedResolver {
  @Query(() => String) whoami(): string { return 'me'; }
}

type Server = 'apollo/express' | 'apollo/fastify' | 'mercurius/fastify';
const SERVERS: Server[] = ['apollo/express', 'apollo/fastify', 'mercurius/fastify'];

/** Authenticates from `x-user-id`, as a GraphQL auth step that sets `req.user` would. */
function authenticate(req: any): any {
  const id = req.headers['x-user-id'];
  if (typeof id === 'string' && id.length > 0) req.user = { id };
  return req;
}

function graphqlModule(server: Server): DynamicModule {
  const common = { autoSchemaFile: true as const, fieldResolverEnhancers: ['guards' as const] };
  if (server === 'apollo/express') {
    // Over HTTP Apollo passes { req }; over graphql-ws, graphql-ws's context, whose extra.request is the upgrade request.
    const context = ({ req, extra }: { req?: any; extra?: any }) => ({ req: authenticate(req ?? extra.request) });
    return GraphQLModule.forRoot({ ...common, driver: ApolloDriver, graphiql: false, subscriptions: { 'graphql-ws': true }, context } as any);
  }
  if (server === 'apollo/fastify') {
    // On Fastify Apollo passes (request, reply) over HTTP; the README asks apps to keep the reply in
    // the context so that headers reach the response. Over graphql-ws, graphql-ws's context.
    const context = (request: any, reply: any) => (request.extra === undefined ? { req: authenticate(request), reply } : { req: authenticate(request.extra.request) });
    return GraphQLModule.forRoot({ ...common, driver: ApolloDriver, graphiql: false, subscriptions: { 'graphql-ws': true }, context } as any);
  }
  // Mercurius hands (request, reply) to the context function and adds `reply` to the context; a
  // subscription gets the upgrade request, in `reply.request` too.
  const subscription = { context: (_socket: unknown, request: any) => { authenticate(request); return {}; } };
  return GraphQLModule.forRoot({ ...common, driver: MercuriusDriver, subscription, context: (request: any) => { authenticate(request); return {}; } } as any);
}

function appModule(server: Server, options: ThrottlingModuleOptions): Type<unknown> {
  class GraphQLAppModule {}
  Module({ imports: [ThrottlingModule.forRoot(options), graphqlModule(server)], providers: [ContactsResolver] })(GraphQLAppModule);
  return GraphQLAppModule;
}

describe.each(SERVERS)('GraphQL on %s', (server) => {
  const platform: Platform = server === 'apollo/express' ? 'express' : 'fastify';
  // One app per server (building the schema is the slow part); every test starts an hour later on
  // the fake clock, so the buckets of earlier tests have expired.
  let app: INestApplication | undefined;
  const clock = new FakeClock();
  beforeAll(async () => {
    const rates = { anon: '3/min', user: '3/min', uploads: '1/min' };
    app = await startApp(platform, appModule(server, { defaultThrottles: [AnonThrottle, UserThrottle], clock: clock.read, rates }));
  });
  beforeEach(() => clock.advance(3600));
  afterAll(async () => app?.close());

  async function boot() {
    const http = app!.getHttpServer();
    const gql = (query: string, user?: string) => {
      const call = request(http).post('/graphql').set('content-type', 'application/json');
      return (user === undefined ? call : call.set('x-user-id', user)).send({ query });
    };
    const start = clock.now / 1000;
    // Seconds from the start of the test.
    const at = (seconds: number) => clock.set(start + seconds);
    return { at, gql };
  }

  function expectThrottled(res: request.Response, retryAfter: number) {
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].message).toBe(`Request was throttled. Expected available in ${retryAfter} ${retryAfter === 1 ? 'second' : 'seconds'}.`);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfter });
    expect(res.headers['retry-after']).toBe(String(retryAfter));
  }

  test('the fourth query in a minute is throttled with code TOO_MANY_REQUESTS, retryAfter and Retry-After', async () => {
    const { gql } = await boot();
    for (let i = 0; i < 3; i++) {
      const ok = await gql('{ contactCount }').expect(200);
      expect(ok.body).toEqual({ data: { contactCount: 5 } });
    }
    const throttled = await gql('{ contactCount }');
    expectThrottled(throttled, 60);
    expect(throttled.body.data).toBeNull();
  });

  test('rate-limit headers go on the HTTP response of a GraphQL request', async () => {
    const { gql } = await boot();
    const res = await gql('{ contactCount }').expect(200);
    expect(res.headers['ratelimit']).toBe('"anon";r=2;t=60, "user";r=2;t=60');
  });

  test('mutations count like queries', async () => {
    const { gql } = await boot();
    for (let i = 0; i < 3; i++) await gql('mutation { addContact(name: "x") { id } }').expect(200);
    expectThrottled(await gql('mutation { addContact(name: "y") { id } }'), 60);
    expectThrottled(await gql('{ contactCount }'), 60);
  });

  test('one operation with several root fields counts once', async () => {
    const { gql } = await boot();
    for (let i = 0; i < 3; i++) {
      const ok = await gql('{ a: contactCount b: contactCount contacts { id } }').expect(200);
      expect(ok.body.errors).toBeUndefined();
      expect(ok.body.data.a).toBe(5);
    }
    expectThrottled(await gql('{ contactCount }'), 60);
  });

  test('field resolvers are not counted, even with guards enabled on them', async () => {
    const { gql } = await boot();
    friendCalls = 0;
    for (let i = 0; i < 3; i++) {
      const ok = await gql('{ contacts { id friends } }').expect(200);
      expect(ok.body.errors).toBeUndefined();
      expect(ok.body.data.contacts.map((c: { friends: number }) => c.friends)).toEqual([2, 4, 6, 8, 10]);
    }
    expect(friendCalls).toBe(15);
    expectThrottled(await gql('{ contactCount }'), 60);
  });

  test('a decorated field resolver counts once per operation on its own bucket', async () => {
    const { gql } = await boot();
    tagCalls = 0;
    for (let i = 0; i < 2; i++) {
      const ok = await gql('{ contacts { id tags } }', 'alice').expect(200);
      expect(ok.body.errors).toBeUndefined();
    }
    expect(tagCalls).toBe(10);
    const throttled = await gql('{ contacts { id tags } }', 'alice').expect(200);
    // The root field passed; each contact's `tags` is refused with the throttled error.
    expect(throttled.body.errors.length).toBeGreaterThan(0);
    expect(throttled.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfter: 60 });
    expect(throttled.body.errors[0].path.map(String)).toEqual(['contacts', '0', 'tags']);
    // Another user's tags bucket is untouched.
    const bob = await gql('{ contacts { id tags } }', 'bob').expect(200);
    expect(bob.body.errors).toBeUndefined();
  });

  test('each user has their own bucket; anonymous clients have theirs', async () => {
    const { gql } = await boot();
    for (let i = 0; i < 3; i++) await gql('{ contactCount }', 'alice').expect(200);
    expectThrottled(await gql('{ contactCount }', 'alice'), 60);
    for (let i = 0; i < 3; i++) {
      const ok = await gql('{ contactCount }', 'bob');
      expect(ok.body.errors).toBeUndefined();
    }
    const anon = await gql('{ contactCount }');
    expect(anon.body.errors).toBeUndefined();
  });

  test('a scoped mutation has its own bucket, shared by nothing else', async () => {
    const { gql } = await boot();
    const first = await gql('mutation { uploadPhoto }', 'alice');
    expect(first.body).toEqual({ data: { uploadPhoto: true } });
    expectThrottled(await gql("mutation { uploadPhoto }", "alice"), 60);
    // The default throttles never saw the scoped mutation.
    for (let i = 0; i < 3; i++) expect((await gql('{ contactCount }', 'alice')).body.errors).toBeUndefined();
    expect((await gql('mutation { uploadPhoto }', 'bob')).body.errors).toBeUndefined();
  });

  test('@ThrottleClasses() with no throttles leaves a query unthrottled', async () => {
    const { gql } = await boot();
    for (let i = 0; i < 3; i++) await gql('{ contactCount }');
    for (let i = 0; i < 5; i++) expect((await gql('{ health }')).body).toEqual({ data: { health: true } });
  });

  test('an unthrottled root field does not spare the throttled root fields of the same operation', async () => {
    const { gql } = await boot();
    for (let i = 0; i < 3; i++) expect((await gql('{ health contactCount }')).body).toEqual({ data: { health: true, contactCount: 5 } });
    const throttled = await gql('{ health contactCount }');
    expect(throttled.body.errors).toHaveLength(1);
    expect(throttled.body.errors[0].path).toEqual(['contactCount']);
    expect(throttled.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfter: 60 });
  });

  test('Retry-After follows DRF: 3/min at t=0, 20, 40 waits 20 s, then 40 s later', async () => {
    const { gql, at } = await boot();
    for (const t of [0, 20, 40]) {
      at(t);
      expect((await gql('{ contactCount }')).body.errors).toBeUndefined();
    }
    at(40);
    expectThrottled(await gql('{ contactCount }'), 20);
    at(60);
    expect((await gql('{ contactCount }')).body.errors).toBeUndefined();
    at(60);
    expectThrottled(await gql('{ contactCount }'), 20);
    at(70);
    expectThrottled(await gql('{ contactCount }'), 10);
  });

  test('accessed() runs once per operation whose resolver succeeded (Tastypie)', async () => {
    const { gql } = await boot();
    SuccessLogThrottle.entries.length = 0;
    expect((await gql('mutation { logged(fail: false) }', 'alice')).body).toEqual({ data: { logged: true } });
    expect((await gql('mutation { logged(fail: true) }', 'alice')).body.errors[0].message).toBe('failed on purpose');
    expect((await gql('mutation { a: logged(fail: false) b: logged(fail: false) }', 'bob')).body.errors).toBeUndefined();
    expect(SuccessLogThrottle.entries).toEqual(['graphql Mutation.logged alice', 'graphql Mutation.logged bob']);
  });

  {
    test('subscriptions over graphql-ws are not counted unless decorated; a decorated one is, per user', async () => {
      const { gql } = await boot();
      const { port } = app!.getHttpServer().address() as AddressInfo;
      const subscribe = (query: string, user?: string) =>
        new Promise<{ data?: unknown; errors?: any[] }>((resolve, reject) => {
          const client = createClient({
            url: `ws://127.0.0.1:${port}/graphql`,
            webSocketImpl: class extends WebSocket {
              constructor(url: string, protocols: string[]) {
                super(url, protocols, { headers: user === undefined ? {} : { 'x-user-id': user } });
              }
            },
            retryAttempts: 0,
          });
          let first: { data?: unknown; errors?: any[] } | undefined;
          client.subscribe({ query }, {
            next: (value) => (first ??= value as { data?: unknown; errors?: any[] }),
            error: (error) => {
              void client.dispose();
              if (Array.isArray(error)) resolve({ errors: error });
              else reject(error);
            },
            complete: () => {
              void client.dispose();
              resolve(first ?? {});
            },
          });
        });
      for (let i = 0; i < 5; i++) expect(await subscribe('subscription { ticks }')).toEqual({ data: { ticks: 'tick' } });
      // The five subscriptions left the anonymous client's query budget untouched.
      for (let i = 0; i < 3; i++) expect((await gql('{ contactCount }')).body.errors).toBeUndefined();
      expect(await subscribe('subscription { alerts }', 'alice')).toEqual({ data: { alerts: 'alert' } });
      const throttled = await subscribe('subscription { alerts }', 'alice');
      expect(throttled.errors?.[0]).toMatchObject({ message: 'Request was throttled. Expected available in 60 seconds.', extensions: { code: 'TOO_MANY_REQUESTS', retryAfter: 60 } });
      expect(await subscribe('subscription { alerts }', 'bob')).toEqual({ data: { alerts: 'alert' } });
    });
  }

  test("enforceAt: 'interceptor' sees the user set by a resolver-level auth guard", async () => {
    class InterceptorAppModule {}
    const clock = new FakeClock();
    Module({
      imports: [ThrottlingModule.forRoot({ defaultThrottles: [UserThrottle], rates: { user: '2/min' }, clock: clock.read, enforceAt: 'interceptor' }), graphqlModule(server)],
      providers: [GuardedResolver],
    })(InterceptorAppModule);
    const guarded = await startApp(platform, InterceptorAppModule);
    try {
      const whoami = (user: string) => request(guarded.getHttpServer()).post('/graphql').set('x-guard-user', user).send({ query: '{ whoami }' });
      for (let i = 0; i < 2; i++) expect((await whoami('alice')).body).toEqual({ data: { whoami: 'me' } });
      expect((await whoami('alice')).body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfter: 60 });
      // Counted per user, not per address: bob, from the same address, is not throttled.
      expect((await whoami('bob')).body).toEqual({ data: { whoami: 'me' } });
    } finally {
      await guarded.close();
    }
  });

  if (server === 'mercurius/fastify') {
    test('a static context object, which Mercurius shares between requests, still counts every request', async () => {
      class StaticContextModule {}
      Module({
        imports: [
          ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle], rates: { anon: '3/min', uploads: '1/min', tags: null }, clock: new FakeClock().read }),
          GraphQLModule.forRoot({ autoSchemaFile: true, driver: MercuriusDriver, context: { tenant: 'acme' } } as any),
        ],
        providers: [ContactsResolver],
      })(StaticContextModule);
      const staticApp = await startApp(platform, StaticContextModule);
      try {
        const count = () => request(staticApp.getHttpServer()).post('/graphql').send({ query: '{ contactCount }' });
        for (let i = 0; i < 3; i++) expect((await count()).body).toEqual({ data: { contactCount: 5 } });
        expectThrottled(await count(), 60);
      } finally {
        await staticApp.close();
      }
    });
  }
});

describe('Apollo on Fastify with a context that leaves the reply out', () => {
  /** Boots Apollo on Fastify with the given context function; records what the app logs as warnings. */
  async function bootApollo(context: (request: any, reply: any) => object) {
    class ReplyModule {}
    Module({
      imports: [
        ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle], rates: { anon: '1/min', uploads: '1/min', tags: null }, clock: new FakeClock().read }),
        GraphQLModule.forRoot({ autoSchemaFile: true, driver: ApolloDriver, graphiql: false, context } as any),
      ],
      providers: [ContactsResolver],
    })(ReplyModule);
    const warnings: string[] = [];
    const recorder = { log() {}, error() {}, debug() {}, verbose() {}, warn: (message: unknown) => void warnings.push(String(message)) };
    const testing = await Test.createTestingModule({ imports: [ReplyModule] }).compile();
    const app = testing.createNestApplication(new FastifyAdapter(), { logger: recorder });
    await app.init();
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
    const count = () => request(app.getHttpServer()).post('/graphql').set('content-type', 'application/json').send({ query: '{ contactCount }' });
    return { app, warnings, count };
  }

  test('queries are still throttled, no header can be sent, and the app is told once how to fix it', async () => {
    const { app, warnings, count } = await bootApollo((request) => ({ req: request }));
    try {
      const first = await count();
      expect(first.body).toEqual({ data: { contactCount: 5 } });
      expect(first.headers['ratelimit']).toBeUndefined();
      for (let i = 0; i < 2; i++) {
        const throttled = await count();
        expect(throttled.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfter: 60 });
        expect(throttled.headers['retry-after']).toBeUndefined();
      }
      const about = warnings.filter((warning) => warning.includes('no reply in its context'));
      expect(about).toHaveLength(1);
      expect(about[0]).toContain('context: (request, reply) => ({ req: request, reply })');
    } finally {
      await app.close();
    }
  });

  test('with the reply in the context the headers are sent and nothing is logged', async () => {
    const { app, warnings, count } = await bootApollo((request, reply) => ({ req: request, reply }));
    try {
      expect((await count()).headers['ratelimit']).toBe('"anon";r=0;t=60');
      expect((await count()).headers['retry-after']).toBe('60');
      expect(warnings.filter((warning) => warning.includes('no reply in its context'))).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe.each(SERVERS)('GraphQL on %s behind proxies', (server) => {
  const platform: Platform = server === 'apollo/express' ? 'express' : 'fastify';
  let app: INestApplication | undefined;
  afterAll(async () => app?.close());

  test('trustedProxies picks the client from X-Forwarded-For, and IPv6 clients are counted per /64', async () => {
    const options = { defaultThrottles: [AnonThrottle], clock: new FakeClock().read, rates: { anon: '2/min', user: '3/min', uploads: '1/min' }, trustedProxies: ['127.0.0.1'] };
    app = await startApp(platform, appModule(server, options));
    const gql = (forwardedFor: string) => request(app!.getHttpServer()).post('/graphql').set('content-type', 'application/json').set('x-forwarded-for', forwardedFor).send({ query: '{ contactCount }' });
    expect((await gql('2001:db8:1:2::1')).body.errors).toBeUndefined();
    expect((await gql('198.51.100.1, 2001:db8:1:2::2')).body.errors).toBeUndefined();
    expect((await gql('2001:db8:1:2:ffff::3')).body.errors?.[0]?.extensions?.code).toBe('TOO_MANY_REQUESTS');
    expect((await gql('2001:db8:1:3::1')).body.errors).toBeUndefined();
  });
});
