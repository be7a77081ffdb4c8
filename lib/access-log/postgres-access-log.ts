import { type AccessEntry, type AccessLog, AccessLogError, type StoredAccess } from './access-log.js';
import { indexName, quoteIdentifier } from './sql-identifier.js';
import { describeValue } from '../core/describe-value.js';

/** The part of a `pg` Pool (or Client) the log uses. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

/** Where the log reports outages, drops and recoveries. Defaults to the console. */
export interface AccessLogLogger {
  error(message: string): void;
  warn(message: string): void;
  log(message: string): void;
}

export interface PostgresAccessLogOptions {
  /** A `pg` Pool you own (the log never ends it). Default: a pool of its own on `connectionString`. */
  readonly pool?: PgQueryable;
  /** Used when no pool is given. Default: the DATABASE_URL environment variable. */
  readonly connectionString?: string;
  /** Default 'public'. A plain SQL name. */
  readonly schema?: string;
  /** Default 'api_access' (Tastypie's ApiAccess). A plain SQL name. */
  readonly table?: string;
  /** Rows per INSERT, and the buffer size that triggers a flush at once. Default 500. */
  readonly batchSize?: number;
  /** Milliseconds between background flushes (and retries while the database is down). Default 1000. */
  readonly flushInterval?: number;
  /** Most rows buffered while the database is slow or down; past it, rows are dropped (counted, logged). Default 10,000. */
  readonly maxBuffer?: number;
  /** When true, a request fails when its row cannot be stored, instead of being buffered for retry. Default false. */
  readonly strict?: boolean;
  /** How long close() keeps retrying to write the buffer at shutdown, in ms. Default 10,000. */
  readonly shutdownTimeout?: number;
  readonly logger?: AccessLogLogger;
}

/** Counters for monitoring. */
export interface AccessLogStats {
  /** Rows accepted and not yet written. */
  readonly buffered: number;
  /** Rows written since start. */
  readonly written: number;
  /** Rows lost: buffer full while the database was down, or still unwritten when close() gave up. */
  readonly dropped: number;
  /** Strict-mode writes that failed (their requests failed too). */
  readonly rejected: number;
  /** Whether the last write attempt failed. */
  readonly databaseDown: boolean;
}

/** A time range, ends as Date or milliseconds since the epoch: `from` inclusive, `to` exclusive. */
export interface AccessRange {
  readonly from: Date | number;
  readonly to: Date | number;
}

interface Buffered {
  readonly entry: AccessEntry;
  /** Strict mode: settles the request waiting for this row. */
  readonly settle?: (error?: Error) => void;
}

const DEFAULTS = { schema: 'public', table: 'api_access', batchSize: 500, flushInterval: 1000, maxBuffer: 10_000, shutdownTimeout: 10_000 };
/** How often, at most, an ongoing outage repeats its "rows dropped" warning. */
const DROP_REPORT_INTERVAL_MS = 10_000;

/**
 * Tastypie's ApiAccess table in PostgreSQL, written in the background.
 *
 * Requests never wait for the database: rows go to a bounded buffer, written with one INSERT per
 * batch when the batch fills, every `flushInterval`, and on close() (application shutdown). While
 * the database is down the buffer keeps what fits and retries every interval; what does not fit is
 * dropped, counted in stats() and logged. With `strict`, each request instead waits for its row and
 * fails when it cannot be stored.
 *
 * The table is never created implicitly: call createTable() (or `npm run db:access-log`) once.
 */
export class PostgresAccessLog implements AccessLog {
  private readonly schema: string;
  private readonly tableName: string;
  private readonly table: string;
  private readonly batchSize: number;
  private readonly maxBuffer: number;
  private readonly strict: boolean;
  private readonly shutdownTimeout: number;
  private readonly flushInterval: number;
  private readonly logger: AccessLogLogger;
  private readonly ownPool: boolean;
  private poolPromise: Promise<PgQueryable & { end?(): Promise<void> }> | undefined;
  private readonly connectionString: string | undefined;

  private buffer: Buffered[] = [];
  private flushing: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private closed = false;
  private written = 0;
  private dropped = 0;
  private rejected = 0;
  private down = false;
  private droppedThisOutage = 0;
  private lastDropReport = 0;

  constructor(options: PostgresAccessLogOptions = {}) {
    if (options === null || typeof options !== 'object') throw new AccessLogError(`PostgresAccessLog: options must be an object, got ${String(options)}`);
    const known = new Set(['pool', 'connectionString', 'schema', 'table', 'batchSize', 'flushInterval', 'maxBuffer', 'strict', 'shutdownTimeout', 'logger']);
    for (const key of Object.keys(options)) {
      if (!known.has(key)) throw new AccessLogError(`PostgresAccessLog: unknown option '${key}'; known options are ${[...known].join(', ')}`);
    }
    this.schema = quoteIdentifier(options.schema ?? DEFAULTS.schema, 'schema');
    this.tableName = options.table ?? DEFAULTS.table;
    this.table = `${this.schema}.${quoteIdentifier(this.tableName, 'table')}`;
    this.batchSize = positiveInteger(options.batchSize ?? DEFAULTS.batchSize, 'batchSize');
    this.flushInterval = positiveInteger(options.flushInterval ?? DEFAULTS.flushInterval, 'flushInterval');
    this.maxBuffer = positiveInteger(options.maxBuffer ?? DEFAULTS.maxBuffer, 'maxBuffer');
    this.shutdownTimeout = positiveInteger(options.shutdownTimeout ?? DEFAULTS.shutdownTimeout, 'shutdownTimeout');
    if (options.strict !== undefined && typeof options.strict !== 'boolean') throw new AccessLogError(`PostgresAccessLog: strict must be true or false, got ${describeValue(options.strict)}`);
    this.strict = options.strict ?? false;
    this.logger = options.logger ?? consoleLogger;
    const { pool } = options;
    if (pool !== undefined) {
      if (pool === null || typeof (pool as PgQueryable).query !== 'function') throw new AccessLogError(`PostgresAccessLog: pool must be a pg Pool (with query()), got ${pool === null ? 'null' : typeof pool}`);
      this.poolPromise = Promise.resolve(pool);
      this.ownPool = false;
    } else {
      this.connectionString = options.connectionString ?? process.env.DATABASE_URL;
      if (typeof this.connectionString !== 'string' || this.connectionString.length === 0) {
        throw new AccessLogError(`PostgresAccessLog: give a pool or a connectionString, or set DATABASE_URL (got ${describeValue(options.connectionString)})`);
      }
      this.ownPool = true;
    }
    this.timer = setInterval(() => this.backgroundFlush(), this.flushInterval);
    this.timer.unref?.();
  }

  /** The schema-qualified, quoted table name, e.g. `"public"."api_access"`. */
  get qualifiedTable(): string {
    return this.table;
  }

  /** Creates the schema (unless public), the table and its indexes, if they do not exist. */
  async createTable(): Promise<void> {
    const statements = [
      this.schema === '"public"' ? null : `CREATE SCHEMA IF NOT EXISTS ${this.schema}`,
      `CREATE TABLE IF NOT EXISTS ${this.table} (
        id BIGSERIAL PRIMARY KEY,
        identifier TEXT NOT NULL,
        url TEXT NOT NULL,
        request_method TEXT NOT NULL,
        accessed TIMESTAMPTZ NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS ${indexName(this.tableName, 'identifier_accessed_idx')} ON ${this.table} (identifier, accessed)`,
      `CREATE INDEX IF NOT EXISTS ${indexName(this.tableName, 'accessed_idx')} ON ${this.table} (accessed)`,
    ];
    const pool = await this.pool();
    for (const statement of statements) if (statement !== null) await pool.query(statement);
  }

  write(entry: AccessEntry): void | Promise<void> {
    if (this.closed) return this.refuse(entry, 'the access log is closed');
    if (this.buffer.length >= this.maxBuffer) return this.refuse(entry, `the buffer is full (${this.maxBuffer} rows)`);
    if (!this.strict) {
      this.buffer.push({ entry });
      // While the database is down, retries wait for the interval instead of hammering it.
      if (this.buffer.length >= this.batchSize && !this.down) this.startFlush();
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.buffer.push({ entry, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      // Strict rows are written at once; rows accepted in the same tick share one INSERT.
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        this.startFlush();
      });
    });
  }

  /** Writes everything buffered now; rejects if the database refused (the rows stay buffered). */
  async flush(): Promise<void> {
    while (this.buffer.length > 0) {
      await this.startFlush();
      if (this.down) throw new AccessLogError(`PostgresAccessLog: the database is unavailable; ${this.buffer.length} rows stay buffered`);
    }
  }

  /**
   * Stops the timer and writes the buffer, retrying for up to `shutdownTimeout`; rows still unwritten
   * then are counted as dropped and logged. Ends the pool when the log created it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + this.shutdownTimeout;
    while (this.buffer.length > 0 || this.flushing !== null) {
      await this.startFlush();
      if (!this.down) continue;
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.flushInterval, Math.max(1, deadline - Date.now()))));
    }
    if (this.buffer.length > 0) {
      const lost = this.buffer.length;
      this.dropped += lost;
      for (const item of this.buffer) item.settle?.(new AccessLogError('PostgresAccessLog: closed before the row could be stored'));
      this.buffer = [];
      this.logger.error(`PostgresAccessLog: shut down with the database unavailable; ${lost} access rows were not stored (${this.dropped} dropped in total)`);
    }
    if (this.ownPool && this.poolPromise !== undefined) {
      const pool = await this.poolPromise.catch(() => undefined);
      await pool?.end?.();
    }
  }

  stats(): AccessLogStats {
    return { buffered: this.buffer.length, written: this.written, dropped: this.dropped, rejected: this.rejected, databaseDown: this.down };
  }

  /** The accesses of one identifier in a range, oldest first (at most `limit`, default 1000). Buffered rows appear once flushed. */
  async accesses(identifier: string, range: AccessRange, limit = 1000): Promise<StoredAccess[]> {
    if (typeof identifier !== 'string') throw new AccessLogError(`PostgresAccessLog.accesses: identifier must be a string, got ${typeof identifier}`);
    const [from, to] = rangeOf(range, 'accesses');
    const pool = await this.pool();
    const { rows } = await pool.query(
      `SELECT identifier, url, request_method, accessed FROM ${this.table} WHERE identifier = $1 AND accessed >= $2 AND accessed < $3 ORDER BY accessed, id LIMIT $4`,
      [identifier, from, to, positiveInteger(limit, 'limit')],
    );
    return rows.map((row) => ({ identifier: row.identifier, url: row.url, method: row.request_method, accessedAt: new Date(row.accessed) }));
  }

  /** How often each identifier called in a range, busiest first ("who called us how often yesterday"). */
  async counts(range: AccessRange, limit = 1000): Promise<{ identifier: string; count: number }[]> {
    const [from, to] = rangeOf(range, 'counts');
    const pool = await this.pool();
    const { rows } = await pool.query(
      `SELECT identifier, count(*) AS count FROM ${this.table} WHERE accessed >= $1 AND accessed < $2 GROUP BY identifier ORDER BY count(*) DESC, identifier LIMIT $3`,
      [from, to, positiveInteger(limit, 'limit')],
    );
    return rows.map((row) => ({ identifier: row.identifier, count: Number(row.count) }));
  }

  private refuse(entry: AccessEntry, reason: string): void | Promise<void> {
    if (this.strict) {
      this.rejected++;
      return Promise.reject(new AccessLogError(`PostgresAccessLog: cannot store the access of '${entry.identifier}': ${reason}`));
    }
    this.dropped++;
    this.droppedThisOutage++;
    const now = Date.now();
    if (now - this.lastDropReport >= DROP_REPORT_INTERVAL_MS) {
      this.lastDropReport = now;
      this.logger.warn(`PostgresAccessLog: dropping access rows because ${reason}; ${this.droppedThisOutage} dropped so far (${this.dropped} in total)`);
    }
  }

  private backgroundFlush(): void {
    if (this.buffer.length > 0 && this.flushing === null) void this.startFlush();
  }

  /** One drain at a time; resolves when it ends (emptied, or stopped by a failure). Never rejects. */
  private startFlush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.batchSize);
      try {
        await this.insert(batch);
      } catch (error) {
        this.onFailure(batch, error as Error);
        return;
      }
      // Only drain() takes from the front, so the batch is still the buffer's head.
      this.buffer.splice(0, batch.length);
      this.written += batch.length;
      for (const item of batch) item.settle?.();
      if (this.down) this.onRecovery();
    }
  }

  private async insert(batch: readonly Buffered[]): Promise<void> {
    const identifiers = new Array<string>(batch.length);
    const urls = new Array<string>(batch.length);
    const methods = new Array<string>(batch.length);
    const times = new Array<string>(batch.length);
    batch.forEach(({ entry }, i) => {
      identifiers[i] = entry.identifier;
      urls[i] = entry.url;
      methods[i] = entry.method;
      times[i] = new Date(entry.accessedAt).toISOString();
    });
    const pool = await this.pool();
    // Four array parameters whatever the batch size: one round trip, no parameter limit.
    await pool.query(
      `INSERT INTO ${this.table} (identifier, url, request_method, accessed) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])`,
      [identifiers, urls, methods, times],
    );
  }

  private onFailure(batch: readonly Buffered[], error: Error): void {
    if (!this.down) {
      this.down = true;
      this.droppedThisOutage = 0;
      this.logger.error(`PostgresAccessLog: cannot write to ${this.table}: ${error.message}; ${this.strict ? 'requests fail until it is back' : `keeping up to ${this.maxBuffer} rows and retrying every ${this.flushInterval} ms`}`);
    }
    if (!this.strict) return;
    // Strict rows are not retried: their requests fail now, as promised.
    const failed = new Set(batch);
    this.buffer = this.buffer.filter((item) => !failed.has(item));
    this.rejected += batch.length;
    for (const item of batch) item.settle?.(new AccessLogError(`PostgresAccessLog: cannot store the access of '${item.entry.identifier}': ${error.message}`));
  }

  private onRecovery(): void {
    this.down = false;
    this.logger.log(`PostgresAccessLog: ${this.table} is writable again${this.droppedThisOutage > 0 ? `; ${this.droppedThisOutage} rows were dropped during the outage` : ''}`);
    this.droppedThisOutage = 0;
  }

  private pool(): Promise<PgQueryable & { end?(): Promise<void> }> {
    this.poolPromise ??= createPool(this.connectionString!, this.logger);
    return this.poolPromise;
  }
}

/**
 * `pg` is loaded only when the log makes its own pool, so apps without an access log never need it.
 * The CommonJS build compiles the import() to require(), as for the optional peers (optional-peer.ts).
 */
async function createPool(connectionString: string, logger: AccessLogLogger): Promise<PgQueryable & { end(): Promise<void> }> {
  let pg: typeof import('pg');
  try {
    const loaded = await import('pg');
    pg = (loaded as unknown as { default?: typeof import('pg') }).default ?? loaded;
  } catch (error) {
    throw new AccessLogError(`PostgresAccessLog needs the 'pg' package: npm install pg (${(error as Error).message})`);
  }
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: 5000 });
  // An idle connection that breaks (database restart) must not crash the app: the next write retries.
  pool.on('error', (error) => logger.warn(`PostgresAccessLog: idle connection lost: ${error.message}`));
  return pool;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new AccessLogError(`PostgresAccessLog: ${name} must be a positive integer, got ${describeValue(value)}`);
  }
  return value;
}

function rangeOf(range: AccessRange, method: string): [string, string] {
  const ends = [range?.from, range?.to].map((end, index) => {
    const ms = end instanceof Date ? end.getTime() : end;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new AccessLogError(`PostgresAccessLog.${method}: ${index === 0 ? 'from' : 'to'} must be a Date or milliseconds, got ${String(end)}`);
    }
    return new Date(ms).toISOString();
  });
  return [ends[0], ends[1]];
}

const consoleLogger: AccessLogLogger = {
  error: (message) => console.error(message),
  warn: (message) => console.warn(message),
  log: (message) => console.log(message),
};
