import { type AccessEntry, type AccessLog, AccessLogError, type StoredAccess } from './access-log.js';
import { AccessIds } from './access-ids.js';
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
  /**
   * How long close() may take at shutdown, in ms, whatever the database does: it writes the buffer,
   * retrying while the database is down; rows unwritten then are counted as dropped and logged. Default 10,000.
   */
  readonly shutdownTimeout?: number;
  /**
   * How long one write may go unanswered, in ms, before the database counts as down (the batch stays
   * buffered and is retried). The pool the log makes also gets it as PostgreSQL's statement_timeout,
   * so the server abandons a write stuck behind a lock. Default 5,000.
   */
  readonly writeTimeout?: number;
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
  /** Whether the last write attempt failed or went unanswered for longer than `writeTimeout`. */
  readonly databaseDown: boolean;
}

/** A time range, ends as Date or milliseconds since the epoch: `from` inclusive, `to` exclusive. */
export interface AccessRange {
  readonly from: Date | number;
  readonly to: Date | number;
}

/** A row's fate: stats() counts each accepted row in exactly one of buffered, written and dropped (or rejected). */
type RowState = 'buffered' | 'written' | 'dropped' | 'rejected';

interface Buffered {
  readonly entry: AccessEntry;
  /** Its access_id, as AccessIds numbers it: the same on every attempt, so a retry never doubles the row. */
  readonly id: number;
  state: RowState;
  /** Strict mode: settles the request waiting for this row. */
  readonly settle?: (error?: Error) => void;
}

const DEFAULTS = { schema: 'public', table: 'api_access', batchSize: 500, flushInterval: 1000, maxBuffer: 10_000, shutdownTimeout: 10_000, writeTimeout: 5000 };
/** Our own bound on a write exceeds the server's statement_timeout by this much, so the server's decides first. */
const CLIENT_TIMEOUT_MARGIN_MS = 500;
/** PostgreSQL's codes for a table made before access_id existed: no such column, no unique index for ON CONFLICT. */
const OLD_TABLE_CODES = new Set(['42703', '42P10']);
const NO_TABLE_CODE = '42P01';
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
 * Every row carries a unique access_id and is inserted with ON CONFLICT DO NOTHING: a batch whose
 * reply was lost after the commit is retried without doubling a row. close() ends within
 * `shutdownTimeout` whatever the database does.
 *
 * The table is never created implicitly: call createTable() (or `npm run db:access-log`) once; it
 * also upgrades a table made by an earlier version.
 */
export class PostgresAccessLog implements AccessLog {
  private readonly schema: string;
  private readonly tableName: string;
  private readonly table: string;
  private readonly batchSize: number;
  private readonly maxBuffer: number;
  private readonly strict: boolean;
  private readonly shutdownTimeout: number;
  private readonly writeTimeout: number;
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
  private lastError: Error | undefined;
  private oldTableReported = false;
  private readonly ids = new AccessIds();

  constructor(options: PostgresAccessLogOptions = {}) {
    if (options === null || typeof options !== 'object') throw new AccessLogError(`PostgresAccessLog: options must be an object, got ${describeValue(options)}`);
    const known = new Set(['pool', 'connectionString', 'schema', 'table', 'batchSize', 'flushInterval', 'maxBuffer', 'strict', 'shutdownTimeout', 'writeTimeout', 'logger']);
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
    this.writeTimeout = positiveInteger(options.writeTimeout ?? DEFAULTS.writeTimeout, 'writeTimeout');
    if (options.strict !== undefined && typeof options.strict !== 'boolean') throw new AccessLogError(`PostgresAccessLog: strict must be true or false, got ${describeValue(options.strict)}`);
    this.strict = options.strict ?? false;
    this.logger = options.logger ?? consoleLogger;
    const { pool } = options;
    if (pool !== undefined) {
      if (pool === null || typeof (pool as PgQueryable).query !== 'function') throw new AccessLogError(`PostgresAccessLog: pool must be a pg Pool (with query()), got ${describeValue(pool)}`);
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

  /**
   * Creates the schema (unless public), the table and its indexes, if they do not exist, and upgrades
   * a table made by an earlier version (adds access_id and its unique index). Building that index on
   * a big table blocks writes to it meanwhile (rows wait in the buffer).
   */
  async createTable(): Promise<void> {
    const statements = [
      this.schema === '"public"' ? null : `CREATE SCHEMA IF NOT EXISTS ${this.schema}`,
      `CREATE TABLE IF NOT EXISTS ${this.table} (
        id BIGSERIAL PRIMARY KEY,
        identifier TEXT NOT NULL,
        url TEXT NOT NULL,
        request_method TEXT NOT NULL,
        accessed TIMESTAMPTZ NOT NULL,
        access_id UUID
      )`,
      // Nullable: rows written before the upgrade have none (a unique index admits many NULLs).
      `ALTER TABLE ${this.table} ADD COLUMN IF NOT EXISTS access_id UUID`,
      `CREATE UNIQUE INDEX IF NOT EXISTS ${indexName(this.tableName, 'access_id_key')} ON ${this.table} (access_id)`,
      `CREATE INDEX IF NOT EXISTS ${indexName(this.tableName, 'identifier_accessed_idx')} ON ${this.table} (identifier, accessed)`,
      `CREATE INDEX IF NOT EXISTS ${indexName(this.tableName, 'accessed_idx')} ON ${this.table} (accessed)`,
    ];
    // Not on the log's own pool: its statement_timeout (writeTimeout) would cut an index build short.
    const { queryable, release } = this.ownPool ? await createSessionWithoutTimeouts(this.connectionString!) : { queryable: await this.pool(), release: async () => {} };
    try {
      for (const statement of statements) if (statement !== null) await queryable.query(statement);
    } finally {
      await release();
    }
  }

  write(entry: AccessEntry): void | Promise<void> {
    if (this.closed) return this.refuse(entry, 'the access log is closed');
    if (this.buffer.length >= this.maxBuffer) return this.refuse(entry, `the buffer is full (${this.maxBuffer} rows)`);
    if (!this.strict) {
      this.buffer.push({ entry, id: this.ids.take(), state: 'buffered' });
      // While the database is down, retries wait for the interval instead of hammering it.
      if (this.buffer.length >= this.batchSize && !this.down) this.startFlush();
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.buffer.push({ entry, id: this.ids.take(), state: 'buffered', settle: (error) => (error === undefined ? resolve() : reject(error)) });
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
      if (this.down) throw new AccessLogError(`PostgresAccessLog: cannot write to ${this.table}: ${this.lastError?.message ?? 'the database is unavailable'}; ${this.buffer.length} rows stay buffered`);
    }
  }

  /**
   * Stops the timer and writes the buffer, retrying while the database is down, and returns within
   * `shutdownTimeout` whatever the database does (a hung write is not waited for). Rows unwritten
   * then are counted as dropped and logged; should a write still in flight at that moment succeed
   * later, its rows move from dropped to written (logged too). Ends the pool when the log created it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + this.shutdownTimeout;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      await untilDeadline(this.startFlush(), deadline);
      if (this.down && this.buffer.length > 0) await sleep(Math.min(this.flushInterval, deadline - Date.now()));
    }
    if (this.buffer.length > 0) {
      const lost = this.buffer.length;
      const inFlight = this.flushing === null ? 0 : Math.min(lost, this.batchSize);
      for (const item of this.buffer) {
        item.state = 'dropped';
        item.settle?.(new AccessLogError('PostgresAccessLog: closed before the row could be stored'));
      }
      this.dropped += lost;
      this.buffer = [];
      this.logger.error(
        `PostgresAccessLog: shutdown timeout (${this.shutdownTimeout} ms) reached with ${this.down ? 'the database unavailable' : 'writes unfinished'}; ` +
          `${lost} access rows were not stored and are counted as dropped (${this.dropped} dropped in total)` +
          (inFlight > 0 ? `; a write of ${inFlight} of them was unanswered: should it succeed yet, they are counted as written` : ''),
      );
    }
    if (this.ownPool && this.poolPromise !== undefined) {
      // A pool ends once its clients are released: a hung write holds one until writeTimeout.
      const ending = this.poolPromise.then((pool) => pool.end?.()).catch(() => undefined);
      await untilDeadline(ending, deadline);
    }
  }

  stats(): AccessLogStats {
    return { buffered: this.buffer.length, written: this.written, dropped: this.dropped, rejected: this.rejected, databaseDown: this.down };
  }

  /** The accesses of one identifier in a range, oldest first (at most `limit`, default 1000). Buffered rows appear once flushed. */
  async accesses(identifier: string, range: AccessRange, limit = 1000): Promise<StoredAccess[]> {
    if (typeof identifier !== 'string') throw new AccessLogError(`PostgresAccessLog.accesses: identifier must be a string, got ${describeValue(identifier)}`);
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
        await this.attempt(batch);
      } catch (error) {
        this.onFailure(batch, error as Error);
        return;
      }
      // attempt() has counted the batch as written already (confirm()).
      if (this.down) this.onRecovery();
    }
  }

  /**
   * One INSERT of the batch, rejected when it fails or goes unanswered for writeTimeout (plus a
   * margin, so that the server's statement_timeout decides first where it applies). An unanswered
   * write may still commit; the retry that follows then inserts nothing, thanks to access_id.
   */
  private async attempt(batch: readonly Buffered[]): Promise<void> {
    const write = this.insert(batch);
    // Registered before the race below, so the rows are counted before drain() goes on; also when the
    // write succeeds after it was given up on (a retry then inserts nothing, or close() counted them as dropped).
    write.then(
      () => this.confirm(batch),
      () => undefined,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unanswered = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new AccessLogError(`no answer within ${this.writeTimeout + CLIENT_TIMEOUT_MARGIN_MS} ms`)), this.writeTimeout + CLIENT_TIMEOUT_MARGIN_MS);
      timer.unref?.();
    });
    try {
      await Promise.race([write, unanswered]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Counts the rows of a batch that succeeded as written, once each, whatever they were counted as
   * before. The buffer only ever loses its front, so the batch's still buffered rows are its head.
   */
  private confirm(batch: readonly Buffered[]): void {
    let stillBuffered = 0;
    let lateRows = 0;
    for (const item of batch) {
      if (item.state === 'buffered') {
        item.state = 'written';
        stillBuffered++;
        item.settle?.();
      } else if (item.state === 'dropped') {
        item.state = 'written';
        lateRows++;
      }
    }
    this.buffer.splice(0, stillBuffered);
    this.written += stillBuffered + lateRows;
    this.dropped -= lateRows;
    if (lateRows > 0) this.logger.log(`PostgresAccessLog: ${lateRows} access rows counted as dropped at shutdown were written after all (${this.dropped} dropped in total)`);
  }

  private async insert(batch: readonly Buffered[]): Promise<void> {
    const identifiers = new Array<string>(batch.length);
    const urls = new Array<string>(batch.length);
    const methods = new Array<string>(batch.length);
    const times = new Array<string>(batch.length);
    const ids = new Array<string>(batch.length);
    batch.forEach(({ entry, id }, i) => {
      identifiers[i] = entry.identifier;
      urls[i] = entry.url;
      methods[i] = entry.method;
      times[i] = new Date(entry.accessedAt).toISOString();
      ids[i] = this.ids.uuid(id);
    });
    const pool = await this.pool();
    // Five array parameters whatever the batch size: one round trip, no parameter limit.
    await pool.query(
      `INSERT INTO ${this.table} (identifier, url, request_method, accessed, access_id) ` +
        `SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::uuid[]) ON CONFLICT (access_id) DO NOTHING`,
      [identifiers, urls, methods, times, ids],
    );
  }

  private onFailure(batch: readonly Buffered[], error: Error): void {
    const code = (error as { code?: unknown }).code;
    const oldTable = typeof code === 'string' && OLD_TABLE_CODES.has(code);
    const hint =
      code === NO_TABLE_CODE ? ' (create it once with createTable() or `npm run db:access-log`)'
      : oldTable ? ` (the table lacks the access_id column or its unique index, which make writes idempotent: it was made by an earlier version; upgrade it once with createTable() or \`npm run db:access-log\`)`
      : '';
    this.lastError = new AccessLogError(`${error.message}${hint}`);
    // After close() gave up, its rows are counted as dropped already, and said so.
    if (this.closed && this.buffer.length === 0) {
      this.down = true;
      return;
    }
    if (!this.down) {
      this.down = true;
      this.droppedThisOutage = 0;
      // The table's shape does not change between batches: said once, not once per outage.
      if (!oldTable || !this.oldTableReported) {
        this.logger.error(`PostgresAccessLog: cannot write to ${this.table}: ${this.lastError.message}; ${this.strict ? 'requests fail until it is back' : `keeping up to ${this.maxBuffer} rows and retrying every ${this.flushInterval} ms`}`);
      }
      if (oldTable) this.oldTableReported = true;
    }
    if (!this.strict) return;
    // Strict rows are not retried: their requests fail now, as promised.
    const failed = new Set(batch.filter((item) => item.state === 'buffered'));
    this.buffer = this.buffer.filter((item) => !failed.has(item));
    this.rejected += failed.size;
    for (const item of failed) {
      item.state = 'rejected';
      item.settle?.(new AccessLogError(`PostgresAccessLog: cannot store the access of '${item.entry.identifier}': ${error.message}`));
    }
  }

  private onRecovery(): void {
    this.down = false;
    this.logger.log(`PostgresAccessLog: ${this.table} is writable again${this.droppedThisOutage > 0 ? `; ${this.droppedThisOutage} rows were dropped during the outage` : ''}`);
    this.droppedThisOutage = 0;
  }

  private pool(): Promise<PgQueryable & { end?(): Promise<void> }> {
    this.poolPromise ??= createPool(this.connectionString!, this.writeTimeout, this.logger);
    return this.poolPromise;
  }
}

/**
 * `pg` is loaded only when the log makes its own pool, so apps without an access log never need it.
 * The CommonJS build compiles the import() to require(), as for the optional peers (optional-peer.ts).
 */
async function createPool(connectionString: string, writeTimeout: number, logger: AccessLogLogger): Promise<PgQueryable & { end(): Promise<void> }> {
  const pg = await loadPg();
  // statement_timeout: the server abandons a write stuck behind a lock (it then wrote nothing);
  // query_timeout: the client gives up on a server that does not answer at all (a partition).
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: writeTimeout, statement_timeout: writeTimeout, query_timeout: writeTimeout + CLIENT_TIMEOUT_MARGIN_MS });
  // An idle connection that breaks (database restart) must not crash the app: the next write retries.
  pool.on('error', (error) => logger.warn(`PostgresAccessLog: idle connection lost: ${error.message}`));
  return pool;
}

/** One connection with no timeouts, for createTable(): an index build on a big table may take long. */
async function createSessionWithoutTimeouts(connectionString: string): Promise<{ queryable: PgQueryable; release: () => Promise<void> }> {
  const pg = await loadPg();
  const client = new pg.Client({ connectionString });
  await client.connect();
  return { queryable: client, release: () => client.end() };
}

async function loadPg(): Promise<typeof import('pg')> {
  try {
    const loaded = await import('pg');
    return (loaded as unknown as { default?: typeof import('pg') }).default ?? loaded;
  } catch (error) {
    throw new AccessLogError(`PostgresAccessLog needs the 'pg' package: npm install pg (${(error as Error).message})`);
  }
}

/** Waits for `work`, but not past the deadline (the work goes on, unawaited). */
async function untilDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
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
      throw new AccessLogError(`PostgresAccessLog.${method}: ${index === 0 ? 'from' : 'to'} must be a Date or milliseconds, got ${describeValue(end)}`);
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
