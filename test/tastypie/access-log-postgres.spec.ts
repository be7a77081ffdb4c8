import { Controller, Get, type INestApplication, Module, Type } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import pg from 'pg';
import request from 'supertest';
import {
  ACCESS_LOG,
  AccessLogError,
  type AccessLogLogger,
  CacheDBThrottle,
  MemoryThrottleStore,
  PostgresAccessLog,
  ThrottleClasses,
  ThrottlingModule,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, startApp } from '../support/http-app.js';
import { DATABASE_URL, RUN_ID, serviceAvailable } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const runs = await serviceAvailable('PostgreSQL', DATABASE_URL);
const suite = runs ? describe : describe.skip;

const SCHEMA = `tastypie_${RUN_ID}`.toLowerCase();

/** Collects what the log reports, so tests can check that nothing is lost silently. */
function capturingLogger(): AccessLogLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, error: (m) => void lines.push(`error: ${m}`), warn: (m) => void lines.push(`warn: ${m}`), log: (m) => void lines.push(`log: ${m}`) };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A module with one CacheDBThrottle route, logging to `table` through `accessLog`. */
function appModule(accessLog: Record<string, unknown>, clock?: FakeClock): Type<unknown> {
  @Controller('items')
  @ThrottleClasses(CacheDBThrottle.with({ throttleAt: 1_000_000 }))
  class ItemsController {
    @Get() list() {
      return { items: [] };
    }
  }
  @Module({ imports: [ThrottlingModule.forRoot({ accessLog: accessLog as never, clock: clock?.read })], controllers: [ItemsController] })
  class ItemsModule {}
  return ItemsModule;
}

suite('the access log in PostgreSQL (CacheDBThrottle)', () => {
  let pool: pg.Pool;
  const rows = async (table: string, identifier?: string): Promise<number> => {
    const where = identifier === undefined ? '' : ' WHERE identifier = $1';
    const { rows: [row] } = await pool.query(`SELECT count(*)::int AS n FROM "${SCHEMA}"."${table}"${where}`, identifier === undefined ? [] : [identifier]);
    return row.n;
  };
  const createTable = async (table: string) => {
    const log = new PostgresAccessLog({ pool, schema: SCHEMA, table });
    await log.createTable();
    await log.close();
  };

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await pool.end();
  });

  test('the table is created by createTable() only, in the schema and under the name given', async () => {
    const log = new PostgresAccessLog({ pool, schema: SCHEMA, table: 'explicit', flushInterval: 60_000, logger: capturingLogger() });
    log.write({ identifier: 'daniel', url: '/notes/', method: 'get', accessedAt: Date.now() });
    // No table yet: the write stays buffered for a retry instead of creating anything behind the user's back.
    await expect(log.flush()).rejects.toThrow(AccessLogError);
    expect(log.stats()).toMatchObject({ buffered: 1, written: 0, databaseDown: true });
    await log.createTable();
    await log.flush();
    expect(await rows('explicit')).toBe(1);
    await log.close();
    const { rows: columns } = await pool.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'explicit' ORDER BY ordinal_position`,
      [SCHEMA],
    );
    expect(columns.map((c) => `${c.column_name} ${c.data_type}`)).toEqual(['id bigint', 'identifier text', 'url text', 'request_method text', 'accessed timestamp with time zone']);
  });

  test('schema and table names are validated, naming the bad value', () => {
    expect(() => new PostgresAccessLog({ pool, table: 'api_access; DROP TABLE x' })).toThrow(/table must be a plain SQL name .* got 'api_access; DROP TABLE x'/);
    expect(() => new PostgresAccessLog({ pool, schema: '1abc' })).toThrow(/schema must be a plain SQL name .* got '1abc'/);
    expect(() => new PostgresAccessLog({ pool, batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => new PostgresAccessLog({ pool, flushEvery: 5 } as never)).toThrow(/unknown option 'flushEvery'/);
  });

  // Ported from django-tastypie's CacheDBThrottleTestCase.test_throttling (throttle_at=2, timeframe=5, expiration=2).
  test('CacheDBThrottle throttles like CacheThrottle and writes one row per access', async () => {
    await createTable('ported');
    const clock = new FakeClock();
    clock.set(1_700_000_000);
    const store = new MemoryThrottleStore({ clock: clock.read });
    const log = new PostgresAccessLog({ pool, schema: SCHEMA, table: 'ported', flushInterval: 60_000 });
    const throttle = Object.assign(new (CacheDBThrottle.with({ throttleAt: 2, timeframe: 5, expiration: 2 }))(), {
      runtime: { store, rates: new Map(), clock: clock.read },
      accessLog: log,
    });
    const accesses = (identifier: string) => (store.peek(throttle.cacheKey(identifier), 5000) as { count: number }).count;
    const step = async (expected: { all: number; daniel: number }) => {
      await log.flush();
      expect(await rows('ported')).toBe(expected.all);
      expect(await rows('ported', 'daniel')).toBe(expected.daniel);
    };

    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
    expect(accesses('daniel')).toBe(0);
    await step({ all: 0, daniel: 0 });
    throttle.accessed('daniel');

    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
    expect(accesses('daniel')).toBe(1);
    expect(accesses('cody')).toBe(0);
    await step({ all: 1, daniel: 1 });
    throttle.accessed('daniel');

    throttle.accessed('cody');
    expect(throttle.shouldBeThrottled('cody')).toBe(false);
    expect(accesses('daniel')).toBe(2);
    expect(accesses('cody')).toBe(1);
    await step({ all: 3, daniel: 2 });
    throttle.accessed('cody');

    // THROTTLE'D!
    throttle.accessed('daniel');
    expect(throttle.shouldBeThrottled('daniel')).toBe(5);
    expect(accesses('daniel')).toBe(3);
    await step({ all: 5, daniel: 3 });

    throttle.accessed('daniel');
    expect(throttle.shouldBeThrottled('daniel')).toBe(5);
    expect(accesses('daniel')).toBe(4);
    await step({ all: 6, daniel: 4 });

    // Should be no interplay.
    expect(throttle.shouldBeThrottled('cody')).toBe(5);
    throttle.accessed('cody');
    await step({ all: 7, daniel: 4 });

    // Test the timeframe: the cache forgets, the log keeps.
    clock.advance(throttle.timeframe + 1);
    expect(throttle.shouldBeThrottled('daniel')).toBe(false);
    expect(accesses('daniel')).toBe(0);
    await step({ all: 7, daniel: 4 });
    await log.close();
  });

  // Ported from test_long_url, which "does nothing on SQLite"; here the column is TEXT and it counts.
  test('a long URL is kept whole', async () => {
    await createTable('long_urls');
    const log = new PostgresAccessLog({ pool, schema: SCHEMA, table: 'long_urls' });
    const url = `https://testserver/api/resource?${'longurlparams'.repeat(800)}`;
    log.write({ identifier: 'accessor', url, method: 'get', accessedAt: Date.now() });
    await log.close();
    const [access] = await log.accesses('accessor', { from: 0, to: Date.now() + 1000 });
    expect(access.url).toBe(url);
    expect(url.length).toBeGreaterThan(10_000);
  });

  test('the query API answers who called how often in a range', async () => {
    await createTable('queries');
    const log = new PostgresAccessLog({ pool, schema: SCHEMA, table: 'queries' });
    const day = Date.UTC(2026, 0, 2);
    const hour = 3_600_000;
    const calls: [string, number][] = [['daniel', day - hour], ['daniel', day + hour], ['daniel', day + 2 * hour], ['cody', day + 3 * hour], ['cody', day + 25 * hour]];
    for (const [identifier, at] of calls) log.write({ identifier, url: `/notes/?at=${at}`, method: 'get', accessedAt: at });
    await log.flush();
    const range = { from: new Date(day), to: new Date(day + 24 * hour) };
    expect(await log.counts(range)).toEqual([{ identifier: 'daniel', count: 2 }, { identifier: 'cody', count: 1 }]);
    const daniel = await log.accesses('daniel', range);
    expect(daniel.map((a) => a.accessedAt.getTime())).toEqual([day + hour, day + 2 * hour]);
    expect(daniel[0]).toMatchObject({ identifier: 'daniel', method: 'get', url: `/notes/?at=${day + hour}` });
    await expect(log.counts({ from: 'yesterday' as never, to: day })).rejects.toThrow(/from must be a Date or milliseconds, got yesterday/);
    await log.close();
  });

  test('CacheDBThrottle without an access log fails the boot with the option to add', async () => {
    @Controller('x')
    @ThrottleClasses(CacheDBThrottle)
    class XController {
      @Get() get() {}
    }
    @Module({ imports: [ThrottlingModule.forRoot()], controllers: [XController] })
    class XModule {}
    expect((await bootError(XModule))?.message).toMatch(/CacheDBThrottle writes every access to an access log, but none is configured: add ThrottlingModule.forRoot\(\{ accessLog/);
  });

  test('a bad accessLog option fails the boot, naming the value', async () => {
    expect((await bootError(appModule({ pool, table: 'no-dashes' }) as never))?.message).toMatch(/accessLog: PostgresAccessLog: table must be a plain SQL name .* got 'no-dashes'/);
  });

  describe.each(PLATFORMS)('through HTTP on %s', (platform) => {
    test('each successful request writes its identifier, full URL with query string, lower-case method and time', async () => {
      const table = `http_${platform}`;
      await createTable(table);
      const clock = new FakeClock();
      clock.set(1_750_000_000);
      const app = await startApp(platform, appModule({ pool, schema: SCHEMA, table }, clock));
      try {
        const query = `q=${'x'.repeat(10_000)}&page=2`;
        await request(app.getHttpServer()).get(`/items?${query}`).expect(200);
        await request(app.getHttpServer()).get('/items/none').expect(404);
        await app.get(ACCESS_LOG).flush();
        const { rows: stored } = await pool.query(`SELECT identifier, url, request_method, accessed FROM "${SCHEMA}"."${table}"`);
        expect(stored).toHaveLength(1);
        expect(stored[0]).toMatchObject({ identifier: '127.0.0.1', url: `/items?${query}`, request_method: 'get' });
        expect(new Date(stored[0].accessed).getTime()).toBe(1_750_000_000_000);
      } finally {
        await app.close();
      }
    });

    test('a graceful shutdown under load loses no row: N accepted requests, N rows', async () => {
      const table = `shutdown_${platform}`;
      await createTable(table);
      // Big batches and a long interval: most rows are still buffered when shutdown starts.
      const app = await startApp(platform, appModule({ connectionString: DATABASE_URL, schema: SCHEMA, table, batchSize: 5000, flushInterval: 60_000 }));
      const url = `${await app.getUrl()}/items`.replace('[::1]', '127.0.0.1');
      let accepted = 0;
      let started = 0;
      let closing: Promise<void> | undefined;
      const worker = async () => {
        while (started < 300) {
          started++;
          try {
            const res = await fetch(url);
            if (res.status === 200) accepted++;
            await res.arrayBuffer();
          } catch {
            // Refused once the server stopped listening: not accepted, so no row is owed.
          }
          if (accepted === 150 && closing === undefined) closing = app.close();
        }
      };
      await Promise.all(Array.from({ length: 12 }, worker));
      await (closing ?? app.close());
      expect(accepted).toBeGreaterThanOrEqual(150);
      expect(await rows(table)).toBe(accepted);
    });

    test('with the database down, requests are served, the buffer stays bounded, drops are counted and logged, and the backlog is written when it returns', async () => {
      const table = `outage_${platform}`;
      await createTable(table);
      const target = new URL(DATABASE_URL);
      const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      await proxy.start();
      const viaProxy = new URL(DATABASE_URL);
      viaProxy.port = String(proxy.port);
      viaProxy.hostname = '127.0.0.1';
      const logger = capturingLogger();
      const app = await startApp(platform, appModule({ connectionString: viaProxy.toString(), schema: SCHEMA, table, flushInterval: 50, maxBuffer: 20, batchSize: 10, logger }));
      try {
        const server = app.getHttpServer();
        const log = app.get(ACCESS_LOG) as PostgresAccessLog;
        await request(server).get('/items').expect(200);
        await until(() => log.stats().written === 1, 'the first row');

        await proxy.cut();
        for (let i = 0; i < 30; i++) await request(server).get('/items').expect(200);
        await until(() => log.stats().databaseDown, 'the outage to be noticed');
        expect(log.stats()).toMatchObject({ buffered: 20, dropped: 10 });
        expect(logger.lines.some((line) => line.startsWith('error: PostgresAccessLog: cannot write to'))).toBe(true);
        expect(logger.lines.some((line) => /^warn: PostgresAccessLog: dropping access rows because the buffer is full \(20 rows\)/.test(line))).toBe(true);

        await proxy.restore();
        await until(() => log.stats().buffered === 0, 'the backlog to be written');
        expect(await rows(table)).toBe(21);
        expect(log.stats()).toMatchObject({ written: 21, dropped: 10, databaseDown: false });
        expect(logger.lines.some((line) => /^log: .* is writable again; 10 rows were dropped during the outage/.test(line))).toBe(true);
      } finally {
        await app.close();
        await proxy.stop();
      }
    });

    test('strict logging fails the request when its row cannot be stored', async () => {
      const table = `strict_${platform}`;
      await createTable(table);
      const target = new URL(DATABASE_URL);
      const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      await proxy.start();
      const viaProxy = new URL(DATABASE_URL);
      viaProxy.port = String(proxy.port);
      viaProxy.hostname = '127.0.0.1';
      const app = await startApp(platform, appModule({ connectionString: viaProxy.toString(), schema: SCHEMA, table, strict: true, logger: capturingLogger() }));
      try {
        const server = app.getHttpServer();
        // Strict: the response waits for its row, so it is there when the response arrives.
        await request(server).get('/items').expect(200);
        expect(await rows(table)).toBe(1);
        await proxy.cut();
        await request(server).get('/items').expect(500);
        await proxy.restore();
        await request(server).get('/items').expect(200);
        expect(await rows(table)).toBe(2);
        expect((app.get(ACCESS_LOG) as PostgresAccessLog).stats()).toMatchObject({ rejected: 1, buffered: 0 });
      } finally {
        await app.close();
        await proxy.stop();
      }
    });
  });
});
