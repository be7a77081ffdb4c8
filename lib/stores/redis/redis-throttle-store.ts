import { randomBytes } from 'node:crypto';
import { type Clock, validClock } from '../../core/clock.js';
import type { AlgorithmOutcome } from '../../core/algorithms/algorithm-outcome.js';
import type { CountingAlgorithm, HitResult, PeekCounting, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../../core/store.js';
import { describeValue } from '../../core/describe-value.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { type AlgorithmMode, packAlgorithmChecks, packCountedRecords, parseAlgorithmReply, primaryKey, usesAlgorithmMode, usesCountedRecord } from './algorithm-call.js';
import { DenyCache, type DenyCacheOption } from './deny-cache.js';
import { hashTagOf } from './hash-tag.js';
import { RedisKeyNames } from './redis-key-names.js';
import { adaptRedisClient, type RedisScriptClient } from './redis-script-client.js';
import { THROTTLE_SCRIPT, THROTTLE_SCRIPT_SHA } from './throttle-script.js';

export interface RedisThrottleStoreOptions {
  /** Prepended to every key, to keep throttle keys apart from the app's own. Default 'throttle:'. */
  readonly keyPrefix?: string;
  /**
   * FOR TESTS ONLY. By default the time is the Redis server's (TIME), so instances whose clocks
   * disagree still share one window. Given a clock, the store sends its time instead, so a test can
   * replay DRF's scenarios (t = 0, 20, 40 s...) against real Redis without sleeping.
   */
  readonly clock?: Clock;
  /** Disconnect the client in close(). Default false: the client is the application's. */
  readonly closeClient?: boolean;
  /**
   * Send the script calls of all requests handled in one event-loop turn in one socket write, as
   * node-redis does by itself: one system call here and one read in Redis instead of one per request,
   * at the cost of holding each call until the turn's I/O callbacks are done (microseconds). Applies
   * to ioredis and iovalkey clients (and their Cluster); each request still sends one command.
   * Default true; false writes each call at once.
   */
  readonly coalesceWrites?: boolean;
  /**
   * Deny again in-process, without a round trip, a check Redis has just denied, until its slot
   * frees: a client flooding over its limit then costs Redis nothing per request. Sliding-log
   * checks that record at once (DRF's) and every counter-algorithm check; never a reservation. A
   * reset() in this process drops the key's denial; another process's reset (or a flushed Redis) is
   * seen here only when the cached wait has passed, hence off by default. true: at most 10,000
   * denials held (least recently used dropped first); { maxKeys }: as many.
   */
  readonly denyCache?: DenyCacheOption;
}

/**
 * Sliding logs in Redis or Valkey (single node or Cluster), atomic across every process and machine
 * that shares the server.
 *
 * - One round trip per request: every check of a request is evaluated and recorded by one EVALSHA
 *   of a Lua script (loaded on NOSCRIPT), with DRF's rules exactly (lib/core/sliding-log.ts).
 * - The time is the server's (TIME, in ms), so app instances with skewed clocks agree.
 * - One list of hit times per key, with an expiry that follows the retention (see the script), so
 *   idle keys disappear on their own.
 * - Cluster: the identity in DRF's `throttle_<scope>_<ident>` is the hash tag, so the keys of one
 *   request (anon, user, scoped...) live in one slot and one call. Checks whose keys land on
 *   different hash tags are sent as one call per tag, in parallel.
 * - Reservations (WindowCheck.reserveMs) live in a companion sorted set per key, reservation id ->
 *   expiry, in the key's hash slot (see pendingKey()): checked, held and settled inside the script.
 *   Checks with `record: false` (the only ones that reserve) count them; DRF's never hold any.
 * - The counter algorithms (fixed-window, sliding-window, gcra) keep one short string per key and
 *   algorithm (`<log key>:fw`, `:sw`, `:gc`, in the log's slot), cost, blockMs and allOrNothing are
 *   decided inside the same one call (./algorithm-modes-lua.ts); DRF's checks, which carry none of
 *   them, keep the plain mode and its cost.
 * - allOrNothing across several hash tags of a Cluster (keys of different identities): every tag
 *   is first decided without writing, then all commit when all allowed (else only the blocks of the
 *   denied are written): two round trips, and another request slipping between them on one tag
 *   makes that tag deny while the others counted (stricter, never more admitted than the limits).
 * - Opt-in (`denyCache`): checks Redis just denied are denied again here until their answer changes
 *   (./deny-cache.ts), so a flood over the limit makes no round trip per request.
 */
export class RedisThrottleStore implements ThrottleStore {
  private readonly redis: RedisScriptClient;
  private readonly keyPrefix: string;
  private readonly clock: Clock | undefined;
  private readonly closeClient: boolean;
  /** Reservation ids: a random part per store instance (so processes never clash) and a counter. */
  private readonly reservationPrefix = randomBytes(6).toString('base64url');
  private reservations = 0;
  /** Null when the option is off: then hit() costs one check more than without it. */
  private readonly denyCache: DenyCache | null;
  private readonly names: RedisKeyNames;
  private readonly nextReservation = (): string => `${this.reservationPrefix}${++this.reservations}`;

  constructor(client: unknown, options: RedisThrottleStoreOptions = {}) {
    if (options.coalesceWrites !== undefined && typeof options.coalesceWrites !== 'boolean') {
      throw new ThrottleConfigError(`RedisThrottleStore: coalesceWrites must be true or false, got ${describeValue(options.coalesceWrites)}`);
    }
    this.redis = adaptRedisClient(client, 'RedisThrottleStore', { coalesceWrites: options.coalesceWrites ?? true });
    const keyPrefix = options.keyPrefix ?? 'throttle:';
    if (typeof keyPrefix !== 'string') throw new ThrottleConfigError(`RedisThrottleStore: keyPrefix must be a string, got ${describeValue(keyPrefix)}`);
    // Redis Cluster hashes the first {...} of a key: braces in the prefix would put every key in one slot.
    if (/[{}]/.test(keyPrefix)) throw new ThrottleConfigError(`RedisThrottleStore: keyPrefix must not contain '{' or '}' (it would become every key's hash tag), got '${keyPrefix}'`);
    this.keyPrefix = keyPrefix;
    this.clock = options.clock === undefined ? undefined : validClock(options.clock, 'RedisThrottleStore: clock');
    this.closeClient = options.closeClient === true;
    this.denyCache = DenyCache.fromOption(options.denyCache);
    this.names = new RedisKeyNames(keyPrefix, this.redis.cluster);
  }

  /** True when the store counts in the Redis server's time (no clock was given). */
  get usesServerTime(): boolean {
    return this.clock === undefined;
  }

  /**
   * The Redis key of a store key's sliding log. DRF-format keys (`throttle_<scope>_<ident>`, what
   * every SimpleRateThrottle makes) become `<prefix>throttle_<scope>_{<ident>}`: the identity is the
   * hash tag, so all keys of one request share a Cluster slot. Any other key (Tastypie's, a custom
   * throttle's) is kept whole and hashed whole, spreading over the Cluster. Either way the Redis key
   * is a function of the store key alone, so peek() and reset() find it (./redis-key-names.ts).
   */
  redisKey(key: string): string {
    return this.names.logKey(key);
  }

  /**
   * The companion key holding a key's pending slots, in the same Cluster slot: the key itself with a
   * suffix when it has a hash tag, else under a tag that is the whole key. A key hashed whole that
   * contains '}' cannot be put in a tag: on a Cluster its checks then hold no reservation (null).
   */
  pendingKey(redisKey: string): string | null {
    return this.names.pendingKey(redisKey);
  }

  /** The Redis key of a store key under an algorithm: its sliding log, or its counter (`:fw`, `:sw`, `:gc`). */
  keyOf(key: string, algorithm?: CountingAlgorithm): string {
    return this.names.keyOf(key, algorithm);
  }

  hit(checks: readonly WindowCheck[]): Promise<HitResult[]> {
    if (checks.length === 0) return Promise.resolve([]);
    return this.denyCache === null ? this.send(checks) : this.hitThroughCache(this.denyCache, checks);
  }

  /**
   * The checks with a cached denial are answered here; the others go to Redis, and the denials they
   * get are kept. A denied check records nothing, so leaving it out changes no count.
   */
  private hitThroughCache(cache: DenyCache, checks: readonly WindowCheck[]): Promise<HitResult[]> {
    const localNow = this.clock === undefined ? performance.now() : this.clock();
    const results = new Array<HitResult>(checks.length);
    let sent: number[] | null = null;
    for (let i = 0; i < checks.length; i++) {
      const cached = DenyCache.caches(checks[i]) ? cache.answer(checks[i], localNow) : undefined;
      if (cached !== undefined) results[i] = cached;
      else (sent ??= []).push(i);
    }
    if (sent === null) return Promise.resolve(results);
    const indexes = sent;
    const toSend = indexes.length === checks.length ? checks : indexes.map((i) => checks[i]);
    // All or nothing with a cached denial: the request is denied, so the others count nothing (their blocks aside).
    const knownDenied = indexes.length < checks.length && checks.some((check) => check.allOrNothing === true);
    return this.send(toSend, knownDenied).then((answers) => {
      for (let j = 0; j < indexes.length; j++) {
        const check = checks[indexes[j]];
        const answer = answers[j];
        if (!answer.allowed && DenyCache.caches(check)) cache.remember(check, answer, localNow);
        results[indexes[j]] = answer;
      }
      return results;
    });
  }

  /** Every check to Redis: one call, or one per hash tag on a Cluster. */
  private send(checks: readonly WindowCheck[], knownDenied = false): Promise<HitResult[]> {
    if (knownDenied || checks.some(usesAlgorithmMode)) return this.sendAlgorithmChecks(checks, knownDenied);
    const keys = checks.map((check) => this.redisKey(check.key));
    // Only checks that record later can reserve, so only they read pending sets: DRF's checks, which
    // record at once, keep the plain mode and its single key per check.
    const mode = checks.some((check) => !check.record) ? 'v' : 'h';
    const groups = this.slotGroups(keys);
    if (groups === null) return this.runChecks(mode, keys, checks);
    // Cluster, several hash tags: one atomic call per tag, in parallel, stitched back in input order.
    const results = new Array<HitResult>(checks.length);
    return Promise.all(
      groups.map((indexes) =>
        this.runChecks(mode, indexes.map((i) => keys[i]), indexes.map((i) => checks[i])).then((answers) => {
          indexes.forEach((i, j) => (results[i] = answers[j]));
        }),
      ),
    ).then(() => results);
  }

  /**
   * Checks in the algorithm modes: one call ('a', or 'A' all or nothing), or one per hash tag on a
   * Cluster. All or nothing over several tags takes two rounds: every tag decides without writing
   * ('D'); then every tag commits ('A') when all allowed, else the tags with a denied blocking
   * check write its block ('B'). `knownDenied`: the request is denied already (a cached denial).
   */
  private sendAlgorithmChecks(checks: readonly WindowCheck[], knownDenied: boolean): Promise<HitResult[]> {
    const allOrNothing = knownDenied || checks.some((check) => check.allOrNothing === true);
    const single: AlgorithmMode = knownDenied ? 'B' : allOrNothing ? 'A' : 'a';
    let groups: number[][] | null;
    try {
      groups = this.slotGroups(checks.map((check) => primaryKey(this.names, check)));
    } catch (error) {
      return Promise.reject(error);
    }
    if (groups === null) return this.runAlgorithmChecks(single, checks);
    const tagGroups = groups;
    const inGroups = (mode: (group: number[]) => AlgorithmMode | null, results: HitResult[]) =>
      Promise.all(
        tagGroups.map((indexes) => {
          const groupMode = mode(indexes);
          if (groupMode === null) return undefined;
          return this.runAlgorithmChecks(groupMode, indexes.map((i) => checks[i])).then((answers) => indexes.forEach((i, j) => (results[i] = answers[j])));
        }),
      ).then(() => results);
    if (!allOrNothing || knownDenied) return inGroups(() => single, new Array<HitResult>(checks.length));
    return inGroups(() => 'D', new Array<HitResult>(checks.length)).then((decided) => {
      if (decided.every((result) => result.allowed)) return inGroups(() => 'A', decided);
      const blocks = (indexes: number[]) => indexes.some((i) => !decided[i].allowed && (checks[i].blockMs ?? 0) > 0);
      return inGroups((indexes) => (blocks(indexes) ? 'B' : null), decided);
    });
  }

  private runAlgorithmChecks(mode: AlgorithmMode, checks: readonly WindowCheck[]): Promise<HitResult[]> {
    let call;
    try {
      call = packAlgorithmChecks(mode, this.nowArgument(), checks, this.names, this.nextReservation);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.evaluateRaw(call.keys, [call.packed]).then((reply) => parseAlgorithmReply(reply, checks.length));
  }

  /** What the script takes as the time: '-' for the server's TIME, else the test clock's. */
  private nowArgument(): string {
    return this.clock === undefined ? '-' : String(this.clock());
  }

  /**
   * Records unconditionally. Plain hits on sliding logs (Tastypie's accessed) keep mode 'r'; units
   * on a counter, or several on a log (bytes sent), are counted by mode 'c', even past the limit.
   */
  async record(hits: readonly RecordedHit[]): Promise<void> {
    if (hits.length === 0) return;
    if (hits.some(usesCountedRecord)) return this.recordCounted(hits);
    const checks = hits.map((hit): WindowCheck => ({ key: hit.key, limit: Infinity, windowMs: hit.windowMs, ttlMs: hit.ttlMs, record: true }));
    const keys = checks.map((check) => this.redisKey(check.key));
    const groups = this.slotGroups(keys);
    if (groups === null) {
      await this.runChecks('r', keys, checks);
      return;
    }
    await Promise.all(groups.map((indexes) => this.runChecks('r', indexes.map((i) => keys[i]), indexes.map((i) => checks[i]))));
  }

  private async recordCounted(hits: readonly RecordedHit[]): Promise<void> {
    const groups = this.slotGroups(hits.map((hit) => primaryKey(this.names, hit)));
    const calls = groups === null ? [hits] : groups.map((indexes) => indexes.map((i) => hits[i]));
    await Promise.all(
      calls.map((group) => {
        const call = packCountedRecords(this.nowArgument(), group, this.names);
        return this.evaluateRaw(call.keys, [call.packed]);
      }),
    );
  }

  async settle(settlements: readonly Settlement[]): Promise<void> {
    const byTag = new Map<string, { keys: string[]; packed: string }>();
    for (const settlement of settlements) {
      const key = this.redisKey(settlement.key);
      const pendingKey = this.pendingKey(key);
      if (pendingKey === null) continue;
      const tag = this.redis.cluster ? hashTagOf(key) : '';
      let call = byTag.get(tag);
      if (call === undefined) byTag.set(tag, (call = { keys: [], packed: `s ${this.clock === undefined ? '-' : String(this.clock())}` }));
      call.keys.push(key, pendingKey);
      const retention = Math.max(settlement.windowMs, settlement.ttlMs ?? 0);
      call.packed += ` ${settlement.commit ? 1 : 0} ${settlement.reservation} ${retention}`;
    }
    await Promise.all([...byTag.values()].map(({ keys, packed }) => this.evaluateRaw(keys, [packed])));
  }

  /**
   * Reads a key without changing it. A counter (`counting`): the units in use (count), and the
   * outcome a check costing 1 would get (a running block included), by a check that only answers.
   */
  async peek(key: string, windowMs: number, counting?: PeekCounting): Promise<WindowState & { readonly outcome?: AlgorithmOutcome }> {
    if (counting !== undefined && counting.algorithm !== 'sliding-log') {
      const check: WindowCheck = { key, windowMs, limit: counting.limit, burst: counting.burst, algorithm: counting.algorithm, record: false };
      const [result] = await this.runAlgorithmChecks('a', [check]);
      return { count: result.count, oldest: null, now: result.now, outcome: result.outcome };
    }
    const [result] = await this.runChecks('p', [this.redisKey(key)], [{ key, limit: Infinity, windowMs, record: false }]);
    return { count: result.count, oldest: result.oldest, now: result.now };
  }

  /**
   * Forgets the key under every algorithm: its hits, pending slots, block and counters, in one DEL
   * (one per slot in the rare case of a Cluster key whose companions cannot share its slot).
   */
  async reset(key: string): Promise<void> {
    const names = this.names.allNames(key);
    this.denyCache?.forget(key);
    const groups = this.slotGroups(names);
    await Promise.all(groups === null ? [this.redis.del(names)] : groups.map((indexes) => this.redis.del(indexes.map((i) => names[i]))));
    // A denial of a check sent before the reset may have landed meanwhile.
    this.denyCache?.forget(key);
  }

  async close(): Promise<void> {
    if (this.closeClient) await this.redis.quit();
  }

  /** Null when one call can take every key; else the indexes of the keys, grouped by hash tag. */
  private slotGroups(keys: readonly string[]): number[][] | null {
    if (!this.redis.cluster || keys.length === 1) return null;
    const byTag = new Map<string, number[]>();
    keys.forEach((key, index) => {
      const tag = hashTagOf(key);
      const group = byTag.get(tag);
      if (group === undefined) byTag.set(tag, [index]);
      else group.push(index);
    });
    return byTag.size === 1 ? null : [...byTag.values()];
  }

  private runChecks(mode: 'h' | 'r' | 'p' | 'v', keys: readonly string[], checks: readonly WindowCheck[]): Promise<HitResult[]> {
    // Packed as lib/stores/redis/throttle-script.ts documents: one argument for the whole call.
    let packed = `${mode} ${this.clock === undefined ? '-' : String(this.clock())}`;
    const reserving = mode === 'v';
    const scriptKeys = reserving ? new Array<string>(keys.length * 2) : keys;
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i];
      const limit = check.limit === Infinity ? '1e308' : check.limit;
      const retention = check.ttlMs === undefined || check.ttlMs <= check.windowMs ? '=' : check.ttlMs;
      packed += ` ${limit} ${check.windowMs} ${check.record ? 1 : 0} ${retention}`;
      if (!reserving) continue;
      // A key whose companion cannot share its slot (see pendingKey()) has no pending set: the key
      // itself takes its place in the pair, and 'x' tells the script.
      const pendingKey = this.pendingKey(keys[i]);
      (scriptKeys as string[])[2 * i] = keys[i];
      (scriptKeys as string[])[2 * i + 1] = pendingKey ?? keys[i];
      if (pendingKey === null) packed += ' x -';
      else if (check.reserveMs !== undefined && !check.record) packed += ` ${Math.max(1, Math.ceil(check.reserveMs))} ${this.reservationPrefix}${++this.reservations}`;
      else packed += ' 0 -';
    }
    return this.evaluate(scriptKeys, [packed], checks.length, reserving ? 5 : 4);
  }

  /**
   * EVALSHA and its parsed reply; on NOSCRIPT (a restarted or new node) EVAL, which also caches the
   * script there. One continuation handles both outcomes, so the usual call costs one promise.
   */
  private evaluate(keys: readonly string[], args: readonly string[], expected: number, fieldsPerCheck = 4): Promise<HitResult[]> {
    return this.redis.evalsha(THROTTLE_SCRIPT_SHA, keys, args).then(
      (reply) => parseReply(reply, expected, fieldsPerCheck),
      (error: unknown) => {
        if (!String((error as Error)?.message).includes('NOSCRIPT')) throw error;
        return this.redis.eval(THROTTLE_SCRIPT, keys, args).then((reply) => parseReply(reply, expected, fieldsPerCheck));
      },
    );
  }

  /** EVALSHA (EVAL on NOSCRIPT), the reply unparsed. */
  private evaluateRaw(keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.redis.evalsha(THROTTLE_SCRIPT_SHA, keys, args).catch((error: unknown) => {
      if (!String((error as Error)?.message).includes('NOSCRIPT')) throw error;
      return this.redis.eval(THROTTLE_SCRIPT, keys, args);
    });
  }
}

/** The script's reply: one string, `now`, then allowed, count, oldest and blocking per check (and the reservation in mode 'v'). */
function parseReply(reply: unknown, expected: number, fieldsPerCheck: number): HitResult[] {
  const fields = typeof reply === 'string' ? reply.split(' ') : null;
  if (fields === null || fields.length !== 1 + expected * fieldsPerCheck) {
    throw new Error(`RedisThrottleStore: unexpected reply from the throttle script: ${JSON.stringify(reply)}`);
  }
  const now = Number(fields[0]);
  const results = new Array<HitResult>(expected);
  for (let i = 0; i < expected; i++) {
    const base = 1 + i * fieldsPerCheck;
    const allowed = fields[base] === '1';
    const count = Number(fields[base + 1]);
    const oldest = timeOrNull(fields[base + 2]);
    const blockingHit = timeOrNull(fields[base + 3]);
    const result: HitResult = blockingHit === null ? { allowed, count, oldest, now } : { allowed, count, oldest, now, blockingHit };
    const reservation = fieldsPerCheck === 5 ? fields[base + 4] : '';
    results[i] = reservation === '' ? result : { ...result, reservation };
  }
  return results;
}

function timeOrNull(field: string): number | null {
  return field === '' ? null : Number(field);
}
