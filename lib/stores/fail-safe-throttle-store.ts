import { type Clock, systemClock, validClock } from '../core/clock.js';
import type { Awaitable, HitResult, PeekCounting, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import { DeadlineQueue, type ExpiryReason, HARD_BOUND_TIMEOUTS } from './deadline-queue.js';
import { MemoryThrottleStore } from './memory-throttle-store.js';
import { SeenWindows } from './seen-windows.js';
import { StoreTimeoutError, StoreUnavailableError } from './store-unavailable-error.js';
import { describeValue } from '../core/describe-value.js';
import type { StoreOperation, ThrottlingMetrics } from '../metrics/throttling-metrics.js';
import { LOCAL_FALLBACK_STORE_LABEL } from './store-label.js';
import { type StoreErrorPolicy, STORE_ERROR_POLICIES } from '../core/store-error-policy.js';

export { type StoreErrorPolicy, STORE_ERROR_POLICIES } from '../core/store-error-policy.js';

/** An outage edge: reported once when the store starts failing and once when it answers again. */
export type StoreStateChange = { readonly state: 'down'; readonly error: unknown } | { readonly state: 'up'; readonly downForMs: number };

export interface FailSafeThrottleStoreOptions {
  /** Default 'local'. */
  readonly onStoreError?: StoreErrorPolicy;
  /**
   * How long the store may go without answering any call before a call waiting for it gets the
   * policy and the store is taken for down, in ms. Default 100. While answers keep coming (a burst
   * queued on a healthy store), a call waits on, up to 10 x this in all; past that it gets the
   * policy alone, without an outage.
   */
  readonly timeoutMs?: number;
  /** While down, how often one request tries the store again, in ms. Default 1000. */
  readonly retryIntervalMs?: number;
  /** The clock of the 'local' fallback store. Default Date.now. */
  readonly clock?: Clock;
  /** Max keys of the 'local' fallback store. Default 100,000. */
  readonly maxKeys?: number;
  /** Called on each outage edge (e.g. to log). Errors it throws are ignored. */
  readonly onStateChange?: (change: StoreStateChange) => void;
  /** close() also closes the wrapped store. Default true. */
  readonly closeInner?: boolean;
}

// Where a reservation was taken, as the first character of the id this store hands out.
const INNER = 'i';
const LOCAL = 'l';

function tagReservation(result: HitResult, origin: string): HitResult {
  return result.reservation === undefined ? result : { ...result, reservation: origin + result.reservation };
}

// 'allow' during an outage: let through, and say that nothing was counted.
const NOTHING_SEEN = (now: number): HitResult => ({ allowed: true, count: 0, oldest: null, now, uncounted: true });

/**
 * Wraps a networked store so that its failures follow a policy instead of failing requests:
 * every call is bounded by a timeout (see DeadlineQueue: no answer to any of our calls for the
 * timeout, or the hard bound); an error, a rejection or a call the store left unanswered for the
 * timeout starts an outage (reported once), during
 * which requests get the policy at once while one request per retry interval probes the store;
 * the first probe that succeeds ends the outage (reported once). A reply that arrives after its
 * timeout is dropped, never an unhandled rejection.
 */
export class FailSafeThrottleStore implements ThrottleStore {
  readonly policy: StoreErrorPolicy;
  private readonly timeoutMs: number;
  private readonly retryIntervalMs: number;
  private readonly clock: Clock;
  private readonly onStateChange: ((change: StoreStateChange) => void) | undefined;
  private readonly closeInner: boolean;
  private readonly local: MemoryThrottleStore | undefined;
  /** Under 'local': what the store last answered per key, where the local count starts from. */
  private readonly seen: SeenWindows | undefined;
  private downSince: number | null = null;
  private nextProbeAt = 0;
  private probing = false;
  private readonly deadlines: DeadlineQueue;
  /** Set by reportTo(); null (the default) costs each call one check. */
  private metrics: ThrottlingMetrics | null = null;
  private metricsLabel = '';

  constructor(
    readonly inner: ThrottleStore,
    options: FailSafeThrottleStoreOptions = {},
  ) {
    this.policy = options.onStoreError ?? 'local';
    if (!STORE_ERROR_POLICIES.includes(this.policy)) {
      throw new ThrottleConfigError(`onStoreError must be 'allow', 'deny' or 'local', got ${describeValue(this.policy)}`);
    }
    this.timeoutMs = positive(options.timeoutMs ?? 100, 'storeTimeout');
    this.deadlines = new DeadlineQueue(this.timeoutMs);
    this.retryIntervalMs = positive(options.retryIntervalMs ?? 1000, 'retryIntervalMs');
    this.clock = options.clock === undefined ? systemClock : validClock(options.clock, 'FailSafeThrottleStore: clock');
    this.onStateChange = options.onStateChange;
    this.closeInner = options.closeInner ?? true;
    if (this.policy === 'local') {
      this.local = new MemoryThrottleStore({ clock: this.clock, maxKeys: options.maxKeys });
      this.seen = new SeenWindows();
    }
  }

  /**
   * Reports to the metrics under `label` (the wrapped store's kind): its up/down state, each call's
   * duration and result, the calls the policy answered, and the 'local' fallback store's keys.
   */
  reportTo(metrics: ThrottlingMetrics, label: string): void {
    this.metrics = metrics;
    this.metricsLabel = label;
    metrics.storeState(label, this.downSince === null);
    this.local?.reportTo(metrics, LOCAL_FALLBACK_STORE_LABEL);
  }

  /** Whether the wrapped store is considered down now. */
  get isDown(): boolean {
    return this.downSince !== null;
  }

  hit(checks: readonly WindowCheck[]): Promise<HitResult[]> {
    const reserving = checks.some((check) => check.reserveMs !== undefined);
    return this.guarded(
      () => {
        const results = this.inner.hit(checks);
        if (!reserving) return results;
        return Promise.resolve(results).then((answered) => answered.map((result) => tagReservation(result, INNER)));
      },
      (sent) => {
        if (this.policy === 'local') {
          const results = this.localHit(checks, sent);
          return reserving ? results.map((result) => tagReservation(result, LOCAL)) : results;
        }
        const now = this.clock();
        return checks.map(() => NOTHING_SEEN(now));
      },
      true,
      this.seen === undefined ? undefined : checks,
      'hit',
    );
  }

  /**
   * Each reservation is settled where it was taken: the wrapped store's there (when it has settle()),
   * the 'local' fallback's here. A commit the wrapped store cannot take while down is recorded as
   * record() is then: locally under 'local', not at all otherwise.
   */
  async settle(settlements: readonly Settlement[]): Promise<void> {
    const inner: Settlement[] = [];
    const local: Settlement[] = [];
    for (const settlement of settlements) {
      const origin = settlement.reservation.charAt(0);
      const untagged = { ...settlement, reservation: settlement.reservation.slice(1) };
      if (origin === LOCAL) local.push(untagged);
      else if (origin === INNER) inner.push(untagged);
    }
    if (local.length > 0) this.local?.settle(local);
    if (inner.length === 0) return;
    const settle = this.inner.settle?.bind(this.inner);
    const commits = (): RecordedHit[] => inner.filter((s) => s.commit).map(({ key, windowMs, ttlMs }) => ({ key, windowMs, ttlMs }));
    if (settle === undefined) {
      const hits = commits();
      if (hits.length > 0) await this.record(hits);
      return;
    }
    await this.guarded(() => settle(inner), () => (this.policy === 'local' ? this.local!.record(commits()) : undefined), false, undefined, 'record');
  }

  record(hits: readonly RecordedHit[]): Promise<void> {
    // A record follows a request that was already served: under 'deny' there is nothing left to refuse.
    return this.guarded(() => this.inner.record(hits), () => (this.policy === 'local' ? this.local!.record(hits) : undefined), false, undefined, 'record');
  }

  peek(key: string, windowMs: number, counting?: PeekCounting): Promise<WindowState> {
    return this.guarded(() => this.inner.peek(key, windowMs, counting), () => {
      if (this.policy === 'local') return this.localPeek(key, windowMs, counting);
      return { count: 0, oldest: null, now: this.clock() };
    }, true, undefined, 'peek');
  }

  /**
   * 'local': each check counts in the local store on top of the hits this process last saw in the
   * shared one (still inside the window), so it admits at most what is left of the limit.
   */
  private localHit(checks: readonly WindowCheck[], sent: boolean): HitResult[] {
    const now = this.clock();
    // A request whose call was sent is pending in `seen`: not against itself.
    if (sent) for (const check of checks) this.seen!.unsent(check);
    const seen = checks.map((check) => this.seen!.inWindow(check, check.windowMs, now));
    const results = this.local!.hit(checks.map((check, i) => (seen[i].count === 0 ? check : lessBy(check, seen[i].count))));
    // Admitted here, it is counted here; refused here, the store may still count its call.
    if (sent) {
      for (let i = 0; i < checks.length; i++) if (!results[i].allowed) this.seen!.sent(checks[i], now);
    }
    return results.map((result, i) => withSeen(result, seen[i]));
  }

  private localPeek(key: string, windowMs: number, counting: PeekCounting | undefined): WindowState {
    const state = this.local!.peek(key, windowMs, counting);
    return withSeen(state, this.seen!.inWindow({ key }, windowMs, state.now));
  }

  async reset(key: string): Promise<void> {
    this.local?.reset(key);
    try {
      await this.bounded(() => this.inner.reset(key), 'reset');
    } catch (error) {
      throw new StoreUnavailableError(`cannot reset '${key}': ${(error as Error)?.message ?? String(error)}`, error);
    }
  }

  async close(): Promise<void> {
    this.deadlines.clear();
    this.local?.close();
    if (this.closeInner) await this.inner.close?.();
  }

  /**
   * Runs the call against the store when up (or when it is time to probe), else the policy.
   * `noted`: the checks whose answer is noted in `seen` (hit() under 'local').
   */
  private guarded<T>(call: () => Awaitable<T>, fallback: (sent: boolean) => Awaitable<T>, denies = true, noted?: readonly WindowCheck[], operation: StoreOperation = 'hit'): Promise<T> {
    if (this.downSince === null) return this.attempt(call, fallback, denies, noted, operation);
    return this.probeOrFallback(call, fallback, denies, noted, operation);
  }

  /** While down: one call at a time probes the store, once per retry interval; the rest get the policy. */
  private async probeOrFallback<T>(call: () => Awaitable<T>, fallback: (sent: boolean) => Awaitable<T>, denies: boolean, noted: readonly WindowCheck[] | undefined, operation: StoreOperation): Promise<T> {
    const now = Date.now();
    if (this.probing || now < this.nextProbeAt) return this.applyPolicy(fallback, denies, undefined, false);
    this.probing = true;
    this.nextProbeAt = now + this.retryIntervalMs;
    try {
      return await this.attempt(call, fallback, denies, noted, operation);
    } finally {
      this.probing = false;
    }
  }

  /**
   * The call, bounded by the timeout. Its answer marks the store up; an error, a rejection or a
   * timeout with no answer from the store marks it down and answers with the policy instead. A call
   * that only reached the hard bound while the store kept answering gets the policy alone.
   */
  private attempt<T>(call: () => Awaitable<T>, fallback: (sent: boolean) => Awaitable<T>, denies: boolean, noted: readonly WindowCheck[] | undefined, operation: StoreOperation): Promise<T> {
    if (noted !== undefined) this.noteSent(noted);
    return new Promise<T>((resolve, reject) =>
      this.underDeadline(call, noted, operation, (answered, outcome) => {
        if (answered) {
          this.markUp();
          resolve(outcome as T);
          return;
        }
        if (!(outcome instanceof StoreTimeoutError && outcome.reason === 'overdue')) this.markDown(outcome);
        try {
          resolve(this.applyPolicy(fallback, denies, outcome, true));
        } catch (policyError) {
          reject(policyError);
        }
      }),
    );
  }

  /** The call, or a StoreTimeoutError after timeoutMs. */
  private bounded<T>(call: () => Awaitable<T>, operation: StoreOperation): Promise<T> {
    return new Promise<T>((resolve, reject) => this.underDeadline(call, undefined, operation, (answered, outcome) => (answered ? resolve(outcome as T) : reject(outcome))));
  }

  /**
   * Runs the call and reports exactly once: its value (answered), or its error, its rejection or a
   * StoreTimeoutError at the deadline. A late reply or rejection is swallowed. No promise of its
   * own: the one continuation on the call's answer is all this adds to a request. The answer, even
   * a late one, is noted in `seen` for the `noted` checks.
   */
  private underDeadline<T>(call: () => Awaitable<T>, noted: readonly WindowCheck[] | undefined, operation: StoreOperation, settle: (answered: boolean, outcome: unknown) => void): void {
    // performance.now() only when metrics are on.
    const startedAt = this.metrics === null ? 0 : performance.now();
    const waiter = this.deadlines.add((reason: ExpiryReason) => {
      if (this.metrics !== null) this.metrics.storeCall(this.metricsLabel, operation, (performance.now() - startedAt) / 1000, 'timeout');
      settle(false, new StoreTimeoutError(reason === 'stalled' ? this.timeoutMs : this.timeoutMs * HARD_BOUND_TIMEOUTS, reason));
    });
    const once = (answered: boolean, outcome: unknown): void => {
      // Any answer, even a late one, shows the store is making progress on our calls.
      if (answered) {
        this.deadlines.progress();
        if (noted !== undefined) this.noteSeen(noted, outcome as HitResult[]);
      }
      if (waiter.settled) return;
      waiter.settled = true;
      if (this.metrics !== null) {
        this.metrics.storeCall(this.metricsLabel, operation, (performance.now() - startedAt) / 1000, answered ? 'ok' : 'error');
      }
      settle(answered, outcome);
    };
    let answer: Awaitable<T>;
    try {
      answer = call();
    } catch (error) {
      once(false, error);
      return;
    }
    Promise.resolve(answer).then(
      (value) => once(true, value),
      (error: unknown) => once(false, error),
    );
  }

  private noteSent(checks: readonly WindowCheck[]): void {
    const now = this.clock();
    for (let i = 0; i < checks.length; i++) this.seen!.sent(checks[i], now);
  }

  private noteSeen(checks: readonly WindowCheck[], results: readonly HitResult[]): void {
    const now = this.clock();
    for (let i = 0; i < checks.length; i++) this.seen!.note(checks[i], results[i], now);
  }

  /** `sent`: the request's call was sent to the store (and failed or timed out) before this. */
  private applyPolicy<T>(fallback: (sent: boolean) => Awaitable<T>, denies: boolean, error: unknown, sent: boolean): Awaitable<T> {
    if (this.policy === 'deny' && denies) {
      // Down by now (the failure that led here marked it so): the next probe is when it may be back.
      this.metrics?.storeFallback(this.metricsLabel, this.policy);
      throw new StoreUnavailableError('the throttle store is unavailable', error, Math.max(0, this.nextProbeAt - Date.now()));
    }
    this.metrics?.storeFallback(this.metricsLabel, this.policy);
    return fallback(sent);
  }

  private markDown(error: unknown): void {
    if (this.downSince !== null) return;
    this.downSince = Date.now();
    this.nextProbeAt = this.downSince + this.retryIntervalMs;
    this.metrics?.storeState(this.metricsLabel, false);
    this.report({ state: 'down', error });
  }

  private markUp(): void {
    if (this.downSince === null) return;
    const downForMs = Date.now() - this.downSince;
    this.downSince = null;
    this.metrics?.storeState(this.metricsLabel, true);
    this.report({ state: 'up', downForMs });
  }

  private report(change: StoreStateChange): void {
    try {
      this.onStateChange?.(change);
    } catch {
      // A failing logger must not turn an outage into failed requests.
    }
  }
}

/** A local answer with the seen hits of the shared store added to its count and oldest. */
/** The check with `seen` units already taken: gcra's burst (what may come at once), else the limit. */
function lessBy(check: WindowCheck, seen: number): WindowCheck {
  if (check.algorithm === 'gcra') return { ...check, burst: Math.max(0, (check.burst ?? check.limit) - seen) };
  return { ...check, limit: Math.max(0, check.limit - seen) };
}

function withSeen<T extends WindowState>(state: T, seen: { readonly count: number; readonly oldest: number | null }): T {
  if (seen.count === 0) return state;
  const oldest = state.oldest === null || (seen.oldest !== null && seen.oldest < state.oldest) ? seen.oldest : state.oldest;
  return { ...state, count: state.count + seen.count, oldest };
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ThrottleConfigError(`${name} must be a positive number of milliseconds, got ${describeValue(value)}`);
  }
  return value;
}
