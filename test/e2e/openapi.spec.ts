/**
 * The 429s in the OpenAPI document: a real @nestjs/swagger document, generated from apps on Express
 * and Fastify with SwaggerModule.createDocument(), read as JSON.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { Controller, Get, type INestApplication, Post, type Type } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ApiOkResponse, ApiProperty, ApiTooManyRequestsResponse, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import {
  AnonThrottle,
  CacheThrottle,
  ScopedThrottle,
  ThrottleClasses,
  ThrottleScope,
  ThrottlingModule,
  type ThrottlingModuleOptions,
  UserThrottle,
} from '../../lib/index.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';

const LoginThrottle = CacheThrottle.with({ throttleAt: 5, timeframe: 900, scope: 'login' });
const OneAMinute = UserThrottle.with({ scope: 'tight', rate: '1/min' });

@Controller('contacts')
class ContactsController {
  @Get() list() {
    return [];
  }

  @Post('upload')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  upload() {
    return {};
  }

  @Get('health')
  @ThrottleClasses()
  health() {
    return 'ok';
  }

  @Get('documented')
  @ApiOkResponse({ description: 'the list' })
  @ApiTooManyRequestsResponse({ description: 'our own words' })
  documented() {
    return [];
  }

  @Get('login')
  @ThrottleClasses(LoginThrottle)
  login() {
    return {};
  }

  @Get('tight')
  @ThrottleClasses(OneAMinute)
  tight() {
    return {};
  }
}

@Controller('reports')
@ApiTooManyRequestsResponse({ description: 'the controller says so' })
class ReportsController {
  @Get() all() {
    return [];
  }
}

class ContactDto {
  @ApiProperty() name!: string;
}

/** What the swagger CLI plugin compiles into a controller whose handler returns ContactDto[]. */
@Controller('plugin')
class PluginController {
  static _OPENAPI_METADATA_FACTORY() {
    return { list: { type: [ContactDto] } };
  }

  @Get() list(): ContactDto[] {
    return [];
  }
}

const RATES = { anon: '100/day', user: '1000/day', uploads: '20/day' };

function appModule(options: ThrottlingModuleOptions = {}): Type<unknown> {
  @Module({
    imports: [ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle, UserThrottle], rates: RATES, ...options })],
    controllers: [ContactsController, ReportsController, PluginController],
  })
  class AppModule {}
  return AppModule;
}

type Document = ReturnType<typeof SwaggerModule.createDocument>;

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function adapterFor(platform: Platform) {
  return platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
}

async function documentOf(platform: Platform, options?: ThrottlingModuleOptions): Promise<Document> {
  const testing = await Test.createTestingModule({ imports: [appModule(options)] }).compile();
  const app = testing.createNestApplication(adapterFor(platform), { logger: false });
  apps.push(app);
  await app.init();
  return json(SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('contacts').build()));
}

/** The document as a client reads it: JSON text, parsed. */
function json(document: Document): Document {
  return JSON.parse(JSON.stringify(document));
}

function responsesOf(document: Document, path: string, method: 'get' | 'post'): Record<string, any> {
  const operation = (document.paths[path] as Record<string, any> | undefined)?.[method];
  if (operation === undefined) throw new Error(`no ${method} ${path} in the document`);
  return operation.responses;
}

describe.each(PLATFORMS)('the OpenAPI document on %s', (platform) => {
  test('a throttled route documents its 429: body schema, Retry-After, RateLimit and RateLimit-Policy, and its policies', async () => {
    const responses = responsesOf(await documentOf(platform), '/contacts', 'get');
    expect(responses['200']).toBeDefined();
    const throttled = responses['429'];
    expect(throttled.description).toContain('Request was throttled. Expected available in <n> seconds.');
    expect(throttled.description).toContain('"anon";q=100;w=86400, "user";q=1000;w=86400');
    expect(throttled['x-ratelimit-policies']).toEqual([
      { name: 'anon', quota: 100, window: 86400 },
      { name: 'user', quota: 1000, window: 86400 },
    ]);
    const schema = throttled.content['application/json'].schema;
    expect(schema.required).toEqual(['statusCode', 'error', 'message']);
    expect(schema.properties.statusCode).toEqual({ type: 'integer', enum: [429] });
    expect(schema.properties.error).toEqual({ type: 'string', enum: ['Too Many Requests'] });
    expect(Object.keys(throttled.headers)).toEqual(['Retry-After', 'RateLimit', 'RateLimit-Policy']);
    expect(throttled.headers['Retry-After'].schema).toEqual({ type: 'integer', minimum: 1 });
    expect(throttled.headers['RateLimit-Policy'].schema).toEqual({ type: 'string', example: '"anon";q=100;w=86400, "user";q=1000;w=86400' });
  });

  test("a route's own throttles and scope give its policies; a POST keeps its 201", async () => {
    const document = await documentOf(platform);
    const upload = responsesOf(document, '/contacts/upload', 'post');
    expect(Object.keys(upload).sort()).toEqual(['201', '429']);
    expect(upload['429']['x-ratelimit-policies']).toEqual([{ name: 'uploads', quota: 20, window: 86400 }]);
    const tight = responsesOf(document, '/contacts/tight', 'get');
    expect(tight['429']['x-ratelimit-policies']).toEqual([{ name: 'tight', quota: 1, window: 60 }]);
  });

  test('a Tastypie throttle that records after the handler documents its 429 and its throttleAt / timeframe', async () => {
    const login = responsesOf(await documentOf(platform), '/contacts/login', 'get');
    expect(login['429']['x-ratelimit-policies']).toEqual([{ name: 'login', quota: 5, window: 900 }]);
    expect(login['429'].headers['Retry-After']).toBeDefined();
  });

  test('a route with @ThrottleClasses() empty documents no 429', async () => {
    const health = responsesOf(await documentOf(platform), '/contacts/health', 'get');
    expect(Object.keys(health)).toEqual(['200']);
  });

  test('a 429 the user documented, on the handler or the controller, is kept as written', async () => {
    const document = await documentOf(platform);
    const documented = responsesOf(document, '/contacts/documented', 'get');
    expect(documented['429']).toEqual({ description: 'our own words' });
    expect(documented['200']).toEqual({ description: 'the list' });
    expect(responsesOf(document, '/reports', 'get')['429']).toEqual({ description: 'the controller says so' });
  });

  test("the 200 the swagger CLI plugin infers from the handler's return type stays beside the 429", async () => {
    const responses = responsesOf(await documentOf(platform), '/plugin', 'get');
    expect(responses['200'].content['application/json'].schema).toEqual({ type: 'array', items: { $ref: '#/components/schemas/ContactDto' } });
    expect(responses['429']).toBeDefined();
  });

  test("no 503 unless onStoreError is 'deny'; then a 503 with Retry-After", async () => {
    expect(responsesOf(await documentOf(platform), '/contacts', 'get')['503']).toBeUndefined();
    const responses = responsesOf(await documentOf(platform, { onStoreError: 'deny' }), '/contacts', 'get');
    expect(Object.keys(responses['503'].headers)).toEqual(['Retry-After']);
    expect(responses['503'].content['application/json'].schema.properties.statusCode).toEqual({ type: 'integer', enum: [503] });
    expect(responsesOf(await documentOf(platform, { onStoreError: 'deny' }), '/contacts/health', 'get')['503']).toBeUndefined();
  });

  test("headers: 'legacy' documents X-RateLimit-*, 'both' both sets, false Retry-After alone", async () => {
    const legacy = responsesOf(await documentOf(platform, { headers: 'legacy' }), '/contacts', 'get')['429'];
    expect(Object.keys(legacy.headers)).toEqual(['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']);
    const both = responsesOf(await documentOf(platform, { headers: 'both' }), '/contacts', 'get')['429'];
    expect(Object.keys(both.headers)).toEqual(['Retry-After', 'RateLimit', 'RateLimit-Policy', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']);
    const none = responsesOf(await documentOf(platform, { headers: false }), '/contacts', 'get')['429'];
    expect(Object.keys(none.headers)).toEqual(['Retry-After']);
  });

  test('a document made right after NestFactory.create(), before app.init(), shows the 429s', async () => {
    const app = await NestFactory.create(appModule(), adapterFor(platform), { logger: false });
    apps.push(app);
    const document = json(SwaggerModule.createDocument(app, new DocumentBuilder().build()));
    const throttled = responsesOf(document, '/contacts', 'get')['429'];
    expect(Object.keys(throttled.headers)).toEqual(['Retry-After', 'RateLimit', 'RateLimit-Policy']);
    expect(throttled.content['application/json'].schema.properties.statusCode.enum).toEqual([429]);
    expect(Object.keys(responsesOf(document, '/contacts', 'get'))).toEqual(['200', '429']);
    expect(Object.keys(responsesOf(document, '/contacts/health', 'get'))).toEqual(['200']);
    expect(responsesOf(document, '/contacts/documented', 'get')['429']).toEqual({ description: 'our own words' });
  });

  test('what the guard sends on a 429 matches the documented body and headers', async () => {
    const app = await startApp(platform, appModule());
    apps.push(app);
    const document = json(SwaggerModule.createDocument(app, new DocumentBuilder().build()));
    const documented = responsesOf(document, '/contacts/tight', 'get')['429'];
    const url = `${await app.getUrl()}/contacts/tight`.replace('[::1]', '127.0.0.1');
    expect((await fetch(url)).status).toBe(200);
    const refused = await fetch(url);
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as Record<string, unknown>;
    const schema = documented.content['application/json'].schema;
    expect(Object.keys(body).sort()).toEqual([...schema.required].sort());
    expect(body.statusCode).toBe(schema.properties.statusCode.enum[0]);
    expect(body.error).toBe(schema.properties.error.enum[0]);
    for (const name of Object.keys(documented.headers)) expect(refused.headers.get(name)).not.toBeNull();
    expect(refused.headers.get('ratelimit-policy')).toBe(documented.headers['RateLimit-Policy'].schema.example);
  });
});
