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

/** A proxy to the test database, and the connection string that goes through it. */
async function proxiedDatabase(): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(DATABASE_URL);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  await proxy.start();
  const viaProxy = new URL(DATABASE_URL);
  viaProxy.port = String(proxy.port);
  viaProxy.hostname = '127.0.0.1';
  return { proxy, url: viaProxy.toString() };
}

/** Sends `count` requests, `concurrency` at a time; returns how many were answered 200. */
async function load(app: INestApplication, count: number, concurrency = 8): Promise<number> {
  const url = `${await app.getUrl()}/items`.replace('[::1]', '127.0.0.1');
  let started = 0;
  let ok = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      const res = await fetch(url);
      if (res.status === 200) ok++;
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ok;
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
    // Tastypie's columns as they were, and the access_id that makes writes idempotent.
    expect(columns.map((c) => `${c.column_name} ${c.data_type}`)).toEqual(['id bigint', 'identifier text', 'url text', 'request_method text', 'accessed timestamp with time zone', 'access_id uuid']);
    const { rows: [unique] } = await pool.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'explicit' AND indexdef LIKE '%UNIQUE%(access_id)%'`, [SCHEMA]);
    expect(unique).toBeDefined();
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
    await expect(log.counts({ from: 'yesterday' as never, to: day })).rejects.toThrow(/from must be a Date or milliseconds, got 'yesterday'/);
    await log.close();
  });

  test('createTable() upgrades a table made by the previous version; until then writes fail once, saying how to upgrade', async () => {
    // The previous version's table, with a row in it.
    await pool.query(`CREATE TABLE "${SCHEMA}"."old_shape" (id BIGSERIAL PRIMARY KEY, identifier TEXT NOT NULL, url TEXT NOT NULL, request_method TEXT NOT NULL, accessed TIMESTAMPTZ NOT NULL)`);
    await pool.query(`INSERT INTO "${SCHEMA}"."old_shape" (identifier, url, request_method, accessed) VALUES ('before', '/old/', 'get', now())`);
    const logger = capturingLogger();
    const log = new PostgresAccessLog({ pool, schema: SCHEMA, table: 'old_shape', flushInterval: 20, logger });
    log.write({ identifier: 'after', url: '/new/', method: 'get', accessedAt: Date.now() });
    await expect(log.flush()).rejects.toThrow(/access_id .*createTable\(\) or `npm run db:access-log`/);
    // Batch after batch fails the same way while the table stays old: said once.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const errors = logger.lines.filter((line) => line.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/cannot write to "[^"]+"\."old_shape": .*lacks the access_id column or its unique index.*upgrade it once with createTable\(\) or `npm run db:access-log`/);
    expect(log.stats()).toMatchObject({ buffered: 1, written: 0, databaseDown: true });

    await log.createTable();
    await log.createTable(); // idempotent
    await log.flush();
    expect(log.stats()).toMatchObject({ buffered: 0, written: 1, databaseDown: false });
    const { rows: stored } = await pool.query(`SELECT identifier, access_id IS NOT NULL AS has_id FROM "${SCHEMA}"."old_shape" ORDER BY id`);
    expect(stored).toEqual([{ identifier: 'before', has_id: false }, { identifier: 'after', has_id: true }]);
    await log.close();
  });

  test('a write the database does not answer marks it down within writeTimeout, and the rows stay buffered', async () => {
    await createTable('unanswered');
    const { proxy, url } = await proxiedDatabase();
    const logger = capturingLogger();
    const log = new PostgresAccessLog({ connectionString: url, schema: SCHEMA, table: 'unanswered', flushInterval: 60_000, writeTimeout: 300, shutdownTimeout: 1000, logger });
    try {
      log.write({ identifier: 'a', url: '/', method: 'get', accessedAt: Date.now() });
      await log.flush();
      proxy.freeze();
      log.write({ identifier: 'b', url: '/', method: 'get', accessedAt: Date.now() });
      const flushing = log.flush().catch((error: Error) => error);
      await until(() => log.stats().databaseDown, 'the silent database to count as down', 3000);
      expect(((await flushing) as Error).message).toMatch(/no answer within 800 ms|Query read timeout/);
      expect(log.stats()).toMatchObject({ buffered: 1, written: 1, databaseDown: true });
      expect(logger.lines.some((line) => line.startsWith('error: PostgresAccessLog: cannot write to'))).toBe(true);
    } finally {
      await log.close();
      await proxy.stop();
    }
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
  /** A fresh table and an app whose access log writes to it with `options` and a capturing logger. */
  async function loggedApp(table: string, options: Record<string, unknown>) {
    await createTable(table);
    const logger = capturingLogger();
    const app = await startApp(platform, appModule({ schema: SCHEMA, table, logger, ...options }));
    return { app, logger, log: app.get(ACCESS_LOG) as PostgresAccessLog };
  }
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
      const { proxy, url } = await proxiedDatabase();
      const logger = capturingLogger();
      const app = await startApp(platform, appModule({ connectionString: url, schema: SCHEMA, table, flushInterval: 50, maxBuffer: 20, batchSize: 10, logger }));
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

    test('a batch whose reply is lost after the commit is retried without doubling a row: N requests, N rows', async () => {
      const table = `lost_replies_${platform}`;
      const { proxy, url } = await proxiedDatabase();
      const { app, log } = await loggedApp(table, { connectionString: url, flushInterval: 30, batchSize: 100 });
      try {
        // Every INSERT of the first three commits, and its reply never comes: each batch is retried.
        proxy.loseRepliesTo('INSERT INTO', 3);
        const accepted = await load(app, 500);
        expect(accepted).toBe(500);
        await until(() => log.stats().buffered === 0 && proxy.repliesLost === 3, 'the retried batches to be written');
        expect(await rows(table)).toBe(500);
        expect(log.stats()).toMatchObject({ written: 500, dropped: 0, buffered: 0, databaseDown: false });
        const { rows: [ids] } = await pool.query(`SELECT count(DISTINCT access_id)::int AS n FROM "${SCHEMA}"."${table}"`);
        expect(ids.n).toBe(500);
      } finally {
        await app.close();
        await proxy.stop();
      }
    });

    test('shutdown with a silent database ends within shutdownTimeout and counts every unwritten row as dropped', async () => {
      const table = `frozen_${platform}`;
      const { proxy, url } = await proxiedDatabase();
      const { app, logger, log } = await loggedApp(table, { connectionString: url, batchSize: 1000, flushInterval: 60_000, shutdownTimeout: 1000 });
      try {
        await request(app.getHttpServer()).get('/items').expect(200);
        await log.flush();
        const accepted = 1 + (await load(app, 250));
        proxy.freeze();
        const started = Date.now();
        await app.close();
        const took = Date.now() - started;
        expect(took).toBeLessThan(1000 + 400);
        const { written, dropped, buffered } = log.stats();
        expect({ accepted, total: written + dropped, buffered }).toEqual({ accepted, total: accepted, buffered: 0 });
        expect(dropped).toBe(accepted - 1);
        expect(logger.lines).toContainEqual(expect.stringMatching(new RegExp(`^error: PostgresAccessLog: shutdown timeout \\(1000 ms\\) reached .*; ${dropped} access rows were not stored and are counted as dropped`)));
      } finally {
        await proxy.stop();
      }
    });

    test('shutdown with the table locked ends within shutdownTimeout; rows are dropped unless the write in flight commits later', async () => {
      const table = `locked_${platform}`;
      const { app, logger, log } = await loggedApp(table, { connectionString: DATABASE_URL, batchSize: 1000, flushInterval: 60_000, shutdownTimeout: 1000 });
      const locker = await pool.connect();
      try {
        const accepted = await load(app, 200);
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE "${SCHEMA}"."${table}" IN ACCESS EXCLUSIVE MODE`);
        const started = Date.now();
        await app.close();
        expect(Date.now() - started).toBeLessThan(1000 + 400);
        expect(log.stats()).toMatchObject({ written: 0, dropped: accepted, buffered: 0 });
        expect(logger.lines).toContainEqual(expect.stringMatching(new RegExp(`shutdown timeout \\(1000 ms\\) reached .*; ${accepted} access rows were not stored .*a write of ${accepted} of them was unanswered`)));
        // The lock goes within the INSERT's statement_timeout: it commits, and the counts follow.
        await locker.query('COMMIT');
        await until(() => log.stats().written === accepted, 'the late write to be counted');
        expect(log.stats()).toMatchObject({ written: accepted, dropped: 0, buffered: 0 });
        expect(await rows(table)).toBe(accepted);
        expect(logger.lines).toContainEqual(expect.stringMatching(`${accepted} access rows counted as dropped at shutdown were written after all`));
      } finally {
        await locker.query('ROLLBACK').catch(() => undefined);
        locker.release();
      }
    });

    test('a lock held past the write timeout at shutdown: the server abandons the write and the rows stay counted as dropped, exactly', async () => {
      const table = `locked_long_${platform}`;
      const { app, logger, log } = await loggedApp(table, { connectionString: DATABASE_URL, batchSize: 1000, flushInterval: 60_000, shutdownTimeout: 1000, writeTimeout: 300 });
      const locker = await pool.connect();
      try {
        const accepted = await load(app, 200);
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE "${SCHEMA}"."${table}" IN ACCESS EXCLUSIVE MODE`);
        const started = Date.now();
        await app.close();
        expect(Date.now() - started).toBeLessThan(1000 + 400);
        // Past statement_timeout (300 ms) the server cancelled the INSERT: nothing of it can commit later.
        await new Promise((resolve) => setTimeout(resolve, 200));
        await locker.query('COMMIT');
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await rows(table)).toBe(0);
        expect(log.stats()).toMatchObject({ written: 0, dropped: accepted, buffered: 0, databaseDown: true });
        expect(logger.lines).toContainEqual(expect.stringMatching(`${accepted} access rows were not stored and are counted as dropped`));
      } finally {
        await locker.query('ROLLBACK').catch(() => undefined);
        locker.release();
      }
    });

    test('strict logging fails the request when its row cannot be stored', async () => {
      const table = `strict_${platform}`;
      await createTable(table);
      const { proxy, url } = await proxiedDatabase();
      const app = await startApp(platform, appModule({ connectionString: url, schema: SCHEMA, table, strict: true, logger: capturingLogger() }));
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
