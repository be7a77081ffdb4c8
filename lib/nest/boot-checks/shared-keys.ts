import { describeValue } from '../../core/describe-value.js';
import type { CountingAlgorithm } from '../../core/store.js';
import { formatRate } from '../../core/rate.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { AnonThrottle } from '../../throttles/anon-throttle.js';
import { ScopedThrottle } from '../../throttles/scoped-throttle.js';
import { INHERITS_SCOPE, SimpleRateThrottle } from '../../throttles/simple-rate-throttle.js';
import { CacheDBThrottle } from '../../throttles/tastypie/cache-db-throttle.js';
import { CacheThrottle } from '../../throttles/tastypie/cache-throttle.js';
import { NoThrottle } from '../../throttles/tastypie/no-throttle.js';
import { TastypieThrottleAdapter } from '../../throttles/tastypie/tastypie-throttle-adapter.js';
import type { Throttle } from '../../throttles/throttle.js';
import { UserThrottle } from '../../throttles/user-throttle.js';

/** Where a throttle counts (its keys' common prefix) and the limit it applies there, when the library can know both. */
export interface KnownCount {
  /** The keys' prefix: `throttle_<scope>_` (DRF) or `tastypie:<scope>:` (Tastypie). */
  readonly namespace: string;
  /** How the keys look, for messages: `throttle_user_<user id or address>`. */
  readonly keys: string;
  /** Equal for equal limits: the parsed rate, or throttleAt / timeframe / expiration. */
  readonly limit: string;
  /** The limit as the user wrote it: `rate '10/min'`, `rates.user '20/day'`, `throttleAt 5, ...`. */
  readonly limitText: string;
  /**
   * How the keys count: a key written by one algorithm is started afresh by another (and a gcra
   * time means something else under another burst), so throttles sharing keys must agree on both.
   */
  readonly algorithm: CountingAlgorithm;
  /** gcra's burst; undefined for the other algorithms. */
  readonly burst?: number;
  /** How to give this throttle keys of its own. */
  readonly fix: string;
  /**
   * The throttle names these keys' scope itself (a DRF subclass with `scope = 'minutes'`, a
   * `.with({ scope })` variant, a Tastypie throttle, whose keys are per identifier by design) rather
   * than inheriting it with a rate of its own. DRF's own test suite gives two such classes one scope
   * and two rates, so a conflict among them only warns; one that inherited the scope is the slip.
   */
  readonly ownScope: boolean;
}

/** The scope each built-in DRF class counts under unless told otherwise. */
const DEFAULT_SCOPES = new Map<Function, string>([
  [UserThrottle, 'user'],
  [AnonThrottle, 'anon'],
]);

const DRF_CLASSES = [ScopedThrottle, UserThrottle, AnonThrottle] as const;
const STOCK_RATE_METHODS = ['rateFor', 'formatKey', 'planCheck', 'allowRequest'] as const;
const STOCK_KEY_METHODS = ['getCacheKey', 'scopeFor', 'scopeOnRoute'] as const;

/**
 * Where a throttle counts on a route and at what limit. Only the built-in classes, or subclasses that
 * keep how they build keys and pick rates, are known: a subclass overriding rateFor() (a rate per
 * request, e.g. by the user's plan) or getCacheKey() counts in ways the library cannot see, so it is
 * left out (undefined), as is a throttle switched off (rate null).
 */
export function knownCount(throttle: Throttle, routeScope: string | undefined, moduleRates: Readonly<Record<string, unknown>> | undefined): KnownCount | undefined {
  if (throttle instanceof SimpleRateThrottle) return knownRateCount(throttle, routeScope, moduleRates);
  if (throttle instanceof TastypieThrottleAdapter && throttle.inner instanceof CacheThrottle) return knownTastypieCount(throttle.inner);
  return undefined;
}

function knownRateCount(throttle: SimpleRateThrottle, routeScope: string | undefined, moduleRates: Readonly<Record<string, unknown>> | undefined): KnownCount | undefined {
  const base = DRF_CLASSES.find((type) => throttle instanceof type);
  if (base === undefined) return undefined;
  const own = throttle as unknown as Record<string, unknown>;
  if (STOCK_RATE_METHODS.some((method) => own[method] !== (SimpleRateThrottle.prototype as unknown as Record<string, unknown>)[method])) return undefined;
  if (STOCK_KEY_METHODS.some((method) => own[method] !== (base.prototype as unknown as Record<string, unknown>)[method])) return undefined;
  const scope = throttle.scopeOnRoute(routeScope);
  if (scope === undefined) return undefined;
  const rate = throttle.rateFor(scope);
  if (!rate) return undefined;
  const written = throttle.rate !== undefined ? `rate ${describeValue(throttle.rate)}` : `rates.${scope} ${moduleRates?.[scope] === undefined ? formatRate(rate) : describeValue(moduleRates[scope])}`;
  const rateSource = throttle.rate !== undefined ? describeValue(throttle.rate) : moduleRates?.[scope] === undefined ? `'${formatRate(rate)}'` : describeValue(moduleRates[scope]);
  const fix =
    base === ScopedThrottle
      ? `give the routes of one of them a scope of their own, e.g. @ThrottleScope('${scope}-2') with a rate in rates, or use UserThrottle.with({ scope: '${scope}-2', rate: ${rateSource} }) there`
      : `give one of them a scope of its own, e.g. ${base.name}.with({ scope: '${scope}-2', rate: ${rateSource} })`;
  const algorithm = throttle.countingAlgorithm();
  return {
    algorithm,
    burst: algorithm === 'gcra' ? throttle.burstFor(rate) : undefined,
    namespace: `throttle_${scope}_`,
    keys: `throttle_${scope}_<${base === AnonThrottle ? 'address' : 'user id or address'}> (scope '${scope}')`,
    limit: `${rate.limit}/${rate.durationMs}`,
    limitText: written,
    fix,
    // ScopedThrottle's scope is the route's: its rate then comes from rates (DRF), so a rate of its own there is the slip.
    ownScope: base !== ScopedThrottle && throttle.scope !== DEFAULT_SCOPES.get(base) && (throttle.constructor as { [INHERITS_SCOPE]?: boolean })[INHERITS_SCOPE] !== true,
  };
}

function knownTastypieCount(inner: CacheThrottle): KnownCount | undefined {
  const own = inner as unknown as Record<string, unknown>;
  const stock =
    own.cacheKey === NoThrottle.prototype.cacheKey &&
    own.identifierFor === NoThrottle.prototype.identifierFor &&
    own.check === CacheThrottle.prototype.check &&
    own.shouldBeThrottled === CacheThrottle.prototype.shouldBeThrottled &&
    (own.accessed === CacheThrottle.prototype.accessed || own.accessed === CacheDBThrottle.prototype.accessed);
  if (!stock) return undefined;
  const { throttleAt, timeframe, expiration, scope } = inner;
  const base = inner instanceof CacheDBThrottle ? CacheDBThrottle : CacheThrottle;
  return {
    algorithm: 'sliding-log',
    namespace: `tastypie:${scope === undefined ? '' : `${scope}:`}`,
    keys: `tastypie:${scope === undefined ? '' : `${scope}:`}<identifier>_accesses (${scope === undefined ? 'no scope' : `scope '${scope}'`})`,
    limit: `${throttleAt}/${timeframe}/${expiration}`,
    limitText: `throttleAt ${throttleAt}, timeframe ${timeframe}, expiration ${expiration}`,
    fix: `give one of them a scope of its own, e.g. ${base.name}.with({ scope: '${scope ?? 'own'}-2', throttleAt: ${throttleAt}, timeframe: ${timeframe} })`,
    ownScope: true,
  };
}

interface LimitUsers {
  readonly count: KnownCount;
  /** Whether every throttle counting at this limit names its scope itself (see KnownCount.ownScope). */
  ownScope: boolean;
  /** Throttle -> the routes (or 'ThrottlingService') where it counts. */
  readonly users: Map<string, Set<string>>;
}

/**
 * Every known count of the app, by key prefix: two throttles that count in the same keys with
 * different limits use up each other's (UserThrottle.with({ rate: '10/min' }) and '20/day' variants
 * both count in throttle_user_<id>), so that fails the boot, naming both. Different algorithms or
 * gcra bursts there always fail it: each one's writes would restart the other's count.
 */
export class SharedKeyBook {
  private readonly namespaces = new Map<string, Map<string, LimitUsers>>();
  /** Conflicts already warned about (key prefixes), so each is logged once. */
  private readonly warned = new Set<string>();

  /** `warn` receives the conflicts that boot anyway (every throttle in them names its scope itself). */
  constructor(private readonly warn: (message: string) => void) {}

  add(count: KnownCount, throttle: string, where: string): void {
    let limits = this.namespaces.get(count.namespace);
    if (limits === undefined) this.namespaces.set(count.namespace, (limits = new Map()));
    const limit = limitKey(count);
    let entry = limits.get(limit);
    if (entry === undefined) limits.set(limit, (entry = { count, ownScope: true, users: new Map() }));
    entry.ownScope &&= count.ownScope;
    let wheres = entry.users.get(throttle);
    if (wheres === undefined) entry.users.set(throttle, (wheres = new Set()));
    wheres.add(where);
  }

  /** Throws when a throttle counting there would share keys with another limit (nothing is recorded). */
  assertFits(count: KnownCount, throttle: string, where: string): void {
    const limits = this.namespaces.get(count.namespace);
    if (limits === undefined) return;
    for (const [limit, other] of limits) {
      if (limit !== limitKey(count)) this.report(count.namespace, other, { count, ownScope: count.ownScope, users: new Map([[throttle, new Set([where])]]) });
    }
  }

  /** Throws for the first key prefix that two limits share. */
  assertNoConflicts(): void {
    for (const [namespace, limits] of this.namespaces) {
      if (limits.size < 2) continue;
      const entries = [...limits.values()];
      let [first, second] = entries;
      // Another algorithm or burst is always refused: report that pair, whatever else shares the keys.
      second = entries.find((entry) => countingDiffers(entry.count, first.count)) ?? second;
      // Name the throttle that inherited the scope second: its fix is the one to make.
      if (!first.ownScope && second.ownScope) [first, second] = [second, first];
      this.report(namespace, first, second);
    }
  }

  private report(namespace: string, first: LimitUsers, second: LimitUsers): void {
    const error = conflict(first, second);
    if (!first.ownScope || !second.ownScope || countingDiffers(first.count, second.count)) throw error;
    if (this.warned.has(namespace)) return;
    this.warned.add(namespace);
    this.warn(`${error.message}. (This boots because each of them names the scope itself; a throttle that inherits it fails the boot.)`);
  }
}

/** Equal for throttles that may share keys: the same limit, counted the same way. */
function limitKey(count: KnownCount): string {
  return `${count.limit}|${count.algorithm}|${count.burst ?? ''}`;
}

function countingDiffers(a: KnownCount, b: KnownCount): boolean {
  return a.algorithm !== b.algorithm || a.burst !== b.burst;
}

function countingText(count: KnownCount): string {
  return count.algorithm === 'gcra' ? `algorithm 'gcra', burst ${count.burst}` : `algorithm '${count.algorithm}'`;
}

function conflict(first: LimitUsers, second: LimitUsers): ThrottleConfigError {
  const counting = countingDiffers(first.count, second.count);
  const describe = ({ count, users }: LimitUsers) =>
    [...users].map(([throttle, wheres]) => `${throttle} with ${count.limitText}${counting ? `, ${countingText(count)}` : ''} (on ${[...wheres].join(', ')})`).join(' and ');
  const [where] = [...second.users.values()][0];
  const why =
    first.count.algorithm !== second.count.algorithm
      ? `with different algorithms, so each one's writes start the other's count afresh`
      : counting
        ? `with different gcra bursts, so each one's writes move the other's limit`
        : `with different limits, so each one's requests use up the other's limit`;
  return new ThrottleConfigError(`${where}: two throttles count in the same keys, ${first.count.keys}, ${why}: ${describe(first)}, and ${describe(second)}. To keep them apart, ${second.count.fix}`);
}
