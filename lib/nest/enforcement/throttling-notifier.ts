import { Logger } from '@nestjs/common';
import type { Clock } from '../../core/clock.js';
import type { StoreStateChange } from '../../stores/fail-safe-throttle-store.js';
import type { ThrottleContext, ThrottleDecision } from '../../throttles/throttle.js';

/** What onThrottled and the `throttling.throttled` events are told besides the decision. */
export interface ThrottledInfo {
  /** The throttle runs in shadow mode: the request was let through (unless an enforcing throttle denied it). */
  readonly shadow: boolean;
  /** The throttle's policy (its scope), or its class name when it has none. */
  readonly policy: string;
  /** The throttle's class name (a `.with()` variant's name, `UserThrottle(burst, 60/min)`). */
  readonly throttle: string;
  /** The route: `Controller.handler`. */
  readonly route: string;
  readonly transport: string;
}

/** Called once per throttle that denied a request (shadow ones too, with `info.shadow`). */
export type OnThrottledHook = (ctx: ThrottleContext, decision: ThrottleDecision, info: ThrottledInfo) => unknown;
/** Called on each outage edge of a networked store (see FailSafeThrottleStore). */
export type OnStoreStateChangeHook = (change: StoreStateChange) => unknown;

/** The payload of `throttling.throttled` and `throttling.shadow-throttled`: the hook's arguments. */
export interface ThrottledEvent {
  readonly ctx: ThrottleContext;
  readonly decision: ThrottleDecision;
  readonly info: ThrottledInfo;
}

/** The Nest events emitted when @nestjs/event-emitter's EventEmitterModule is registered. */
export const THROTTLING_EVENTS = {
  throttled: 'throttling.throttled',
  shadowThrottled: 'throttling.shadow-throttled',
  /** Payload: the StoreStateChange `{ state: 'down', error }`. */
  storeDown: 'throttling.store.down',
  /** Payload: the StoreStateChange `{ state: 'up', downForMs }`. */
  storeUp: 'throttling.store.up',
} as const;

/** The part of EventEmitter2 used here. */
export interface EventEmitterLike {
  emit(event: string, payload: unknown): unknown;
}

/** What a denied request's notification needs from its route plan. */
export interface NotifiedRoute {
  readonly route: string;
  readonly names: readonly string[];
  readonly shadow: readonly boolean[] | null;
}

/** A shadow would-be denial is logged at most once per policy per this many ms (a flood must not flood the log). */
export const SHADOW_LOG_INTERVAL_MS = 1000;
/** A failing hook or listener is logged at most once per this many ms. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * Tells the app about denials and store outages: the shadow log, the hooks of the options and the
 * Nest events. A hook or listener that throws or rejects is caught and logged: it never breaks
 * the request.
 */
export class ThrottlingNotifier {
  private emitter: EventEmitterLike | null = null;
  /** Per policy (or hook): when it was last logged; bounded by the policies of the app's code and configuration. */
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly onThrottled: OnThrottledHook | undefined,
    private readonly onStoreStateChange: OnStoreStateChangeHook | undefined,
    private readonly clock: Clock,
    private readonly logger: Pick<Logger, 'warn' | 'error'> = new Logger('ThrottlingModule'),
  ) {}

  /** The app's EventEmitter2, found at bootstrap (see ThrottlingEventBridge). */
  attach(emitter: EventEmitterLike): void {
    this.emitter = emitter;
  }

  /** One denied request: each throttle that denied it is logged (shadow), hooked and emitted. */
  denied(ctx: ThrottleContext, decisions: readonly ThrottleDecision[], route: NotifiedRoute): void {
    const watched = this.onThrottled !== undefined || this.emitter !== null;
    if (!watched && route.shadow === null) return;
    for (let i = 0; i < decisions.length; i++) {
      const decision = decisions[i];
      if (decision.allowed) continue;
      const shadow = route.shadow?.[i] === true;
      const policy = decision.policy ?? route.names[i];
      if (shadow) this.logShadowDenial(policy, ctx, decision, route.route);
      if (!watched) continue;
      const info: ThrottledInfo = { shadow, policy, throttle: route.names[i], route: route.route, transport: ctx.transport };
      if (this.onThrottled !== undefined) this.call('onThrottled', () => this.onThrottled!(ctx, decision, info));
      if (this.emitter !== null) this.emit(shadow ? THROTTLING_EVENTS.shadowThrottled : THROTTLING_EVENTS.throttled, { ctx, decision, info });
    }
  }

  /** An outage edge of the fail-safe store. */
  storeStateChanged(change: StoreStateChange): void {
    if (this.onStoreStateChange !== undefined) this.call('onStoreStateChange', () => this.onStoreStateChange!(change));
    if (this.emitter !== null) this.emit(change.state === 'down' ? THROTTLING_EVENTS.storeDown : THROTTLING_EVENTS.storeUp, change);
  }

  private logShadowDenial(policy: string, ctx: ThrottleContext, decision: ThrottleDecision, route: string): void {
    if (!this.due(`shadow:${policy}`, SHADOW_LOG_INTERVAL_MS)) return;
    const wait = decision.wait === null ? '' : `, retry after ${Math.ceil(decision.wait)} s`;
    this.logger.warn(`Shadow throttle would deny: policy '${policy}' on ${route} (${ctx.method} ${ctx.transport})${wait}; the request goes through`);
  }

  private emit(event: string, payload: unknown): void {
    this.call(`a listener of ${event}`, () => (this.emitter as EventEmitterLike & { emitAsync?: (e: string, p: unknown) => unknown }).emitAsync?.(event, payload) ?? this.emitter!.emit(event, payload));
  }

  /** Runs a hook; a throw or a rejection is logged (at most once a minute per hook) and forgotten. */
  private call(what: string, run: () => unknown): void {
    const failed = (error: unknown) => {
      if (this.due(`failure:${what}`, FAILURE_LOG_INTERVAL_MS)) this.logger.error(`${what} failed (ignored, the request goes on): ${(error as Error)?.message ?? String(error)}`);
    };
    try {
      const result = run();
      if (typeof (result as Promise<unknown> | null)?.then === 'function') (result as Promise<unknown>).then(undefined, failed);
    } catch (error) {
      failed(error);
    }
  }

  private due(key: string, intervalMs: number): boolean {
    const now = this.clock();
    const last = this.lastLogged.get(key);
    if (last !== undefined && now - last < intervalMs) return false;
    this.lastLogged.set(key, now);
    return true;
  }
}
