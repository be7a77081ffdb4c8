/**
 * BandwidthThrottle on GraphQL over HTTP (Apollo on Express and Fastify, Mercurius on Fastify):
 * an operation counts the bytes of its HTTP response; once the budget is spent the operation is
 * refused with TOO_MANY_REQUESTS, and refused operations count nothing.
 */
import { type DynamicModule, type INestApplication, Module, type Type } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Args, GraphQLModule, Int, Query, Resolver } from '@nestjs/graphql';
import request from 'supertest';
import { BandwidthThrottle, ThrottleClasses, ThrottlingModule } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { type Platform, startApp } from '../support/http-app.js';

// As in graphql.spec.ts: Mercurius requires @fastify/static, whose ESM-only dependency Jest cannot require().
jest.mock('@fastify/static', () => Object.assign(async () => undefined, { default: async () => undefined }));
const { ApolloDriver } = await import('@nestjs/apollo');
const { MercuriusDriver } = await import('@nestjs/mercurius');

@Resolver()
class FilesResolver {
  @Query(() => String)
  @ThrottleClasses(BandwidthThrottle.with({ scope: 'gql', rate: '3000B/min' }))
  blob(@Args('size', { type: () => Int }) size: number): string {
    return 'é'.repeat(size);
  }
}

type Server = 'apollo/express' | 'apollo/fastify' | 'mercurius/fastify';

function authenticate(req: any): any {
  const id = req.headers['x-user-id'];
  if (typeof id === 'string' && id.length > 0) req.user = { id };
  return req;
}

function graphqlModule(server: Server): DynamicModule {
  if (server === 'apollo/express') {
    return GraphQLModule.forRoot({ autoSchemaFile: true, driver: ApolloDriver, graphiql: false, context: ({ req }: { req: any }) => ({ req: authenticate(req) }) } as any);
  }
  if (server === 'apollo/fastify') {
    return GraphQLModule.forRoot({ autoSchemaFile: true, driver: ApolloDriver, graphiql: false, context: (req: any, reply: any) => ({ req: authenticate(req), reply }) } as any);
  }
  return GraphQLModule.forRoot({ autoSchemaFile: true, driver: MercuriusDriver, context: (req: any) => (authenticate(req), {}) } as any);
}

function appModule(server: Server, clock: FakeClock): Type<unknown> {
  class GraphQLBandwidthModule {}
  Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read }), graphqlModule(server)], providers: [FilesResolver] })(GraphQLBandwidthModule);
  return GraphQLBandwidthModule;
}

function remaining(res: request.Response): number {
  return Number(/;r=(\d+)/.exec(String(res.headers.ratelimit))![1]);
}

describe.each(['apollo/express', 'apollo/fastify', 'mercurius/fastify'] as Server[])('BandwidthThrottle on GraphQL, %s', (server) => {
  const platform: Platform = server === 'apollo/express' ? 'express' : 'fastify';
  const clock = new FakeClock();
  let app: INestApplication | undefined;
  beforeAll(async () => {
    app = await startApp(platform, appModule(server, clock));
  });
  afterAll(async () => app?.close());

  const blob = (size: number, user: string) =>
    request(app!.getHttpServer()).post('/graphql').set('content-type', 'application/json').set('x-user-id', user).send({ query: `{ blob(size: ${size}) }` });

  test("an operation counts the bytes of its HTTP response; RateLimit-Policy says qu=\"content-bytes\"", async () => {
    const first = await blob(500, 'ann').expect(200);
    expect(first.body).toEqual({ data: { blob: 'é'.repeat(500) } });
    expect(first.headers['ratelimit-policy']).toBe('"gql";q=3000;w=60;qu="content-bytes"');
    expect(remaining(first)).toBe(3000);
    const bytes = Buffer.byteLength(first.text);
    expect(bytes).toBeGreaterThan(1000);
    expect(remaining(await blob(1, 'ann'))).toBe(3000 - bytes);
  });

  test('once spent, operations are refused with TOO_MANY_REQUESTS; refusals count nothing, and the budget comes back', async () => {
    clock.set(3600);
    for (let i = 0; i < 3; i++) expect((await blob(500, 'bob')).body.data).toEqual({ blob: 'é'.repeat(500) });
    const refused = await blob(500, 'bob');
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    const retryAfter: number = refused.body.errors[0].extensions.retryAfter;
    expect(retryAfter).toBeGreaterThan(60);
    expect(refused.headers['retry-after']).toBe(String(retryAfter));
    // Refused again later: the refusals did not add to the bytes, so the wait only shrinks.
    clock.set(3600 + 30);
    expect((await blob(500, 'bob')).body.errors[0].extensions.retryAfter).toBe(retryAfter - 30);
    clock.set(3600 + retryAfter);
    expect((await blob(10, 'bob')).body).toEqual({ data: { blob: 'é'.repeat(10) } });
  });
});
