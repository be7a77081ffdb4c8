import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { RUN_ID } from '../support/services.js';
import { ConsumerProject } from './support/consumer-project.js';
import { packedPackage } from './support/packed-package.js';

// A Nest 11 app in CommonJS (test/compat/nest11-commonjs: Nest 11's own packages, its tsconfig and
// Jest configuration as `nest new` makes them) with this library installed from its packed
// tarball, run and tested as a user would run and test it.
const project = new ConsumerProject('nest11-commonjs', RUN_ID);
const notInstalled = await project.installDependencies();
if (notInstalled !== null) {
  if (process.env.CI === 'true') throw new Error(`${notInstalled} (CI=true: this suite must not be skipped)`);
  process.stderr.write(`skipping: ${notInstalled}; it needs the npm registry once\n`);
}

interface Seen {
  status: number;
  body: string;
  headers: Record<'ratelimit' | 'ratelimit-policy' | 'retry-after', string | null>;
}
type HttpReport = Record<'limited' | 'off' | 'uploads' | 'tier' | 'userVariant', Seen[]>;
interface Report {
  nestCore: string;
  typescript: string;
  loadedBy: string;
  libraryEntry: string;
  express: HttpReport;
  fastify: HttpReport;
  cacheManager: HttpReport;
  graphql: { status: number; ratelimit: string | null; retryAfter: string | null; body: { data: { hello: string } | null; errors?: { message: string; extensions: object }[] } }[];
  socketIo: { first: unknown; second: unknown; firstNote: unknown; secondNote: unknown; warnings: string[] };
  ws: { replies: unknown[]; warnings: string[] };
  microservice: ({ answer: string } | { error: unknown })[];
}

const THROTTLED_60 = 'Request was throttled. Expected available in 60 seconds.';
const statuses = (seen: Seen[]) => seen.map((response) => response.status);

(notInstalled === null ? describe : describe.skip)('a Nest 11 CommonJS app uses the package', () => {
  let report: Report;

  beforeAll(async () => {
    report = (await project.installAndRun((await packedPackage()).tarball)) as Report;
  }, 400_000);

  afterAll(() => project.cleanUp());

  test('it runs on Nest 11 and loads the CommonJS build with require()', () => {
    expect(report.nestCore).toMatch(/^11\./);
    expect(report.loadedBy).toBe('commonjs');
    expect(report.libraryEntry).toBe('dist/cjs/index.js');
  });

  describe("the app's own Jest, configured as `nest new` configures it (ts-jest, CommonJS)", () => {
    test('its unit specs (`jest` in package.json: rootDir src) load the module and pass', async () => {
      const { passed } = await project.runJest([]);
      expect(passed).toEqual(['AppController should return "Hello World!"', 'AppController should load the CommonJS build of nestjs-throttling, whose guard DI can construct']);
    }, 200_000);

    test('its e2e spec (test/jest-e2e.json) sees the fourth request of a minute answered 429 with Retry-After', async () => {
      const { passed } = await project.runJest(['--config', './test/jest-e2e.json']);
      expect(passed).toEqual(['AppController (e2e) / (GET) answers three times a minute, then 429 with Retry-After']);
    }, 200_000);
  });

  test('the app compiled with its own TypeScript 5 under module nodenext, and type-checks under module commonjs too', async () => {
    expect(report.typescript).toMatch(/^5\./);
    await project.typecheck('tsconfig.commonjs.json');
  }, 120_000);

  describe.each(['express', 'fastify'] as const)('over HTTP on %s', (adapter) => {
    test('the default throttle allows the rate, then answers 429 with DRF\'s message and Retry-After', () => {
      const limited = report[adapter].limited;
      expect(statuses(limited)).toEqual([200, 200, 200, 429]);
      expect(limited.map((response) => response.headers.ratelimit)).toEqual(['"anon";r=2;t=60', '"anon";r=1;t=60', '"anon";r=0;t=60', '"anon";r=0;t=60']);
      expect(limited[0].headers['ratelimit-policy']).toBe('"anon";q=3;w=60');
      expect(limited[3].headers['retry-after']).toBe('60');
      expect(JSON.parse(limited[3].body)).toEqual({ statusCode: 429, error: 'Too Many Requests', message: THROTTLED_60 });
    });

    test('@ThrottleClasses() with no arguments turns throttling off, headers included', () => {
      const off = report[adapter].off;
      expect(statuses(off)).toEqual([200, 200, 200, 200, 200]);
      expect(off.every((response) => response.headers.ratelimit === null)).toBe(true);
    });

    test('handlers that share a @ThrottleScope share one bucket', () => {
      expect(statuses(report[adapter].uploads)).toEqual([200, 200, 429]);
    });

    test('a throttle with a constructor-injected service is resolved by DI', () => {
      expect(statuses(report[adapter].tier)).toEqual([200, 200, 429]);
    });

    test('a UserThrottle.with() variant keeps its own scope and rate', () => {
      const variant = report[adapter].userVariant;
      expect(statuses(variant)).toEqual([200, 429]);
      expect(variant[0].headers['ratelimit-policy']).toBe('"burst";q=1;w=60');
    });
  });

  test('the counts can live in the app\'s cache-manager cache (@nestjs/cache-manager 3)', () => {
    expect(statuses(report.cacheManager.limited)).toEqual([200, 200, 200, 429]);
    expect(statuses(report.cacheManager.uploads)).toEqual([200, 200, 429]);
  });

  test('Apollo GraphQL (@nestjs/graphql 13) throttles the fourth query with a GraphQL error, Retry-After and RateLimit', () => {
    const queries = report.graphql;
    expect(queries.map((query) => query.body.data?.hello ?? null)).toEqual(['hello', 'hello', 'hello', null]);
    expect(queries[0].ratelimit).toBe('"anon";r=2;t=60');
    expect(queries[3].body.errors?.[0].message).toBe(THROTTLED_60);
    expect(queries[3].body.errors?.[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfter: 60 });
    expect(queries[3].retryAfter).toBe('60');
  });

  test('a socket.io gateway that binds ThrottlingGuard is throttled, with the WsException of the app\'s own @nestjs/websockets', () => {
    expect(report.socketIo.first).toEqual({ shouted: 'HI' });
    expect(report.socketIo.second).toEqual({ status: 'error', message: THROTTLED_60, retryAfter: 60 });
  });

  test('a Tastypie throttle named by @ThrottleClasses() on a gateway counts the message its handler answered', () => {
    expect(report.socketIo.firstNote).toEqual({ noted: 'one' });
    expect(report.socketIo.secondNote).toEqual({ status: 'error', message: THROTTLED_60, retryAfter: 60 });
  });

  test('a ws gateway (@nestjs/platform-ws 11) that binds ThrottlingGuard, and the README\'s filter, gets the throttled error; no warning', () => {
    expect(report.ws.replies).toEqual([
      { event: 'pong', data: 'pong' },
      { event: 'exception', data: { status: 'error', message: THROTTLED_60, retryAfter: 60 } },
    ]);
    expect(report.ws.warnings).toEqual([]);
  });

  test('a gateway that does not bind ThrottlingGuard is named in a warning at boot, as Nest 11 runs no global guard for it', () => {
    expect(report.socketIo.warnings).toEqual([
      'ThrottlingModule: QuietGateway is not throttled: Nest 11 does not run global guards or interceptors for WebSocket gateways. ' +
        'Add @UseGuards(ThrottlingGuard) to the gateway class (Nest 12 needs nothing).',
    ]);
  });

  test('a TCP microservice answers a throttled message with the RpcException of the app\'s own @nestjs/microservices', () => {
    expect(report.microservice).toEqual([
      { answer: 'report for billing' },
      { error: { status: 429, message: THROTTLED_60, retryAfter: 60 } },
      { answer: 'report for shipping' },
    ]);
  });
});
