import { type Clock, systemClock } from '../core/clock.js';
import type { Awaitable, HitResult, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from '../core/store.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import { DeadlineQueue } from './deadline-queue.js';
import { MemoryThrottleStore } from './memory-throttle-store.js';
import { StoreTimeoutError, StoreUnavailableError } from './store-unavailable-error.js';
import { describeValue } from '../core/describe-value.js';

/**
 * What to do while the store fails or is too slow:
 * - 'local': count in this process (an in-memory store) until it is back: limits keep working, per instance;
 * - 'allow': let every request through, unthrottled;
 * - 'deny': refuse every throttled request (the Nest layer answers 503 Service Unavailable).
 */
export type StoreErrorPolicy = 'allow' | 'deny' | 'local';
export const STORE_ERROR_POLICIES: readonly StoreErrorPolicy[] = ['allow', 'deny', 'local'];

/** An outage edge: reported once when the store starts failing and once when it answers again. */
export type StoreStateChange = { readonly state: 'down'; readonly error: unknown } | { readonly state: 'up'; readonly downForMs: number };

export interface FailSafeThrottleStoreOptions {
  /** Default 'local'. */
  readonly onStoreError?: StoreErrorPolicy;
  /** How long one store call may take before the policy applies, in ms. Default 100. */
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
 * every call is bounded by a timeout; the first failure starts an outage (reported once), during
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
  private downSince: number | null = null;
  private nextProbeAt = 0;
  private probing = false;
  private readonly deadlines: DeadlineQueue;

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
    this.clock = options.clock ?? systemClock;
    this.onStateChange = options.onStateChange;
    this.closeInner = options.closeInner ?? true;
    if (this.policy === 'local') this.local = new MemoryThrottleStore({ clock: this.clock, maxKeys: options.maxKeys });
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
      () => {
        if (this.policy === 'local') return reserving ? this.local!.hit(checks).map((result) => tagReservation(result, LOCAL)) : this.local!.hit(checks);
        const now = this.clock();
        return checks.map(() => NOTHING_SEEN(now));
      },
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
    await this.guarded(() => settle(inner), () => (this.policy === 'local' ? this.local!.record(commits()) : undefined), false);
  }

  record(hits: readonly RecordedHit[]): Promise<void> {
    // A record follows a request that was already served: under 'deny' there is nothing left to refuse.
    return this.guarded(() => this.inner.record(hits), () => (this.policy === 'local' ? this.local!.record(hits) : undefined), false);
  }

  peek(key: string, windowMs: number): Promise<WindowState> {
    return this.guarded(() => this.inner.peek(key, windowMs), () => {
      if (this.policy === 'local') return this.local!.peek(key, windowMs);
      return { count: 0, oldest: null, now: this.clock() };
    });
  }

  async reset(key: string): Promise<void> {
    this.local?.reset(key);
    try {
      await this.bounded(() => this.inner.reset(key));
    } catch (error) {
      throw new StoreUnavailableError(`cannot reset '${key}': ${(error as Error)?.message ?? String(error)}`, error);
    }
  }

  async close(): Promise<void> {
    this.deadlines.clear();
    this.local?.close();
    if (this.closeInner) await this.inner.close?.();
  }

  /** Runs the call against the store when up (or when it is time to probe), else the policy. */
  private guarded<T>(call: () => Awaitable<T>, fallback: () => Awaitable<T>, denies = true): Promise<T> {
    if (this.downSince === null) return this.attempt(call, fallback, denies);
    return this.probeOrFallback(call, fallback, denies);
  }

  /** While down: one call at a time probes the store, once per retry interval; the rest get the policy. */
  private async probeOrFallback<T>(call: () => Awaitable<T>, fallback: () => Awaitable<T>, denies: boolean): Promise<T> {
    const now = Date.now();
    if (this.probing || now < this.nextProbeAt) return this.applyPolicy(fallback, denies, undefined);
    this.probing = true;
    this.nextProbeAt = now + this.retryIntervalMs;
    try {
      return await this.attempt(call, fallback, denies);
    } finally {
      this.probing = false;
    }
  }

  /**
   * The call, bounded by the timeout. Its answer marks the store up; an error, a rejection or the
   * timeout marks it down and answers with the policy instead.
   */
  private attempt<T>(call: () => Awaitable<T>, fallback: () => Awaitable<T>, denies: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.underDeadline(call, (answered, outcome) => {
        if (answered) {
          this.markUp();
          resolve(outcome as T);
          return;
        }
        this.markDown(outcome);
        try {
          resolve(this.applyPolicy(fallback, denies, outcome));
        } catch (policyError) {
          reject(policyError);
        }
      }),
    );
  }

  /** The call, or a StoreTimeoutError after timeoutMs. */
  private bounded<T>(call: () => Awaitable<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.underDeadline(call, (answered, outcome) => (answered ? resolve(outcome as T) : reject(outcome))));
  }

  /**
   * Runs the call and reports exactly once: its value (answered), or its error, its rejection or a
   * StoreTimeoutError at the deadline. A late reply or rejection is swallowed. No promise of its
   * own: the one continuation on the call's answer is all this adds to a request.
   */
  private underDeadline<T>(call: () => Awaitable<T>, settle: (answered: boolean, outcome: unknown) => void): void {
    const waiter = this.deadlines.add(() => settle(false, new StoreTimeoutError(this.timeoutMs)));
    const once = (answered: boolean, outcome: unknown): void => {
      if (waiter.settled) return;
      waiter.settled = true;
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

  private applyPolicy<T>(fallback: () => Awaitable<T>, denies: boolean, error: unknown): Awaitable<T> {
    if (this.policy === 'deny' && denies) {
      // Down by now (the failure that led here marked it so): the next probe is when it may be back.
      throw new StoreUnavailableError('the throttle store is unavailable', error, Math.max(0, this.nextProbeAt - Date.now()));
    }
    return fallback();
  }

  private markDown(error: unknown): void {
    if (this.downSince !== null) return;
    this.downSince = Date.now();
    this.nextProbeAt = this.downSince + this.retryIntervalMs;
    this.report({ state: 'down', error });
  }

  private markUp(): void {
    if (this.downSince === null) return;
    const downForMs = Date.now() - this.downSince;
    this.downSince = null;
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

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ThrottleConfigError(`${name} must be a positive number of milliseconds, got ${describeValue(value)}`);
  }
  return value;
}
