import { type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { emitRateLimitHeaders, type RateLimitHeaderCache } from '../http/rate-limit-headers.js';
import { StoreUnavailableError } from '../stores/store-unavailable-error.js';
import { type Evaluation, evaluateThrottles, isPromise } from '../throttles/evaluate-throttles.js';
import type { ThrottleContext } from '../throttles/throttle.js';
import { markHandled } from './handled-requests.js';
import { storeUnavailableException } from './store-unavailable-message.js';
import { rememberAccess } from './pending-accesses.js';
import { ThrottleRegistry, type RoutePlan } from './throttle-registry.js';
import type { ThrottlingSettings } from './throttling-settings.js';
import { THROTTLING_SETTINGS } from './tokens.js';
import type { TransportBinding } from './transports/transport-binding.js';
import { hasOwnThrottleMetadata } from './transports/own-throttle-metadata.js';

/**
 * Runs the throttles of one request and turns the verdict into headers or the transport's
 * throttled error. Shared by the guard and the interceptor, which differ only in when they run.
 */
@Injectable()
export class ThrottleEnforcer {
  constructor(
    private readonly registry: ThrottleRegistry,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
  ) {}

  /** Resolves to true, or throws the throttled error. Synchronous on the embedded store. */
  enforce(context: ExecutionContext): boolean | Promise<boolean> {
    const transport = this.settings.transports.get(context.getType());
    if (transport === undefined) return true;
    if (transport.countsByDefault?.(context) === false && !hasOwnThrottleMetadata(context.getHandler())) return true;
    const plan = this.registry.planFor(context.getClass(), context.getHandler());
    if (isPromise(plan)) return plan.then((resolved) => this.enforcePlan(resolved, transport, context));
    return this.enforcePlan(plan, transport, context);
  }

  private enforcePlan(plan: RoutePlan, transport: TransportBinding, context: ExecutionContext): boolean | Promise<boolean> {
    if (plan.throttles.length === 0) return true;
    const token = transport.requestToken(context);
    if (markHandled(token)) return true;
    const ctx = transport.createContext(context, plan.scope, this.settings);
    // Throttles that record after the handler (Tastypie) get this context from the access interceptor.
    if (plan.accessedThrottles.length > 0) rememberAccess(token, { ctx, throttles: plan.accessedThrottles });
    const evaluation = evaluateThrottles(plan.throttles, ctx, this.settings.runtime.store);
    if (isPromise(evaluation)) {
      return evaluation.then(
        (settled) => this.conclude(settled, ctx, transport, plan.headerCache),
        (error: unknown) => {
          // onStoreError 'deny': the store's outage is the server's problem, so a 503, not a 429 or a 500,
          // with a Retry-After of when the store is tried again.
          if (!(error instanceof StoreUnavailableError)) throw error;
          const retryAfter = error.retryAfter;
          if (retryAfter !== null) transport.setHeader(ctx, 'retry-after', String(retryAfter));
          throw transport.unavailableError?.(ctx, retryAfter) ?? storeUnavailableException(error);
        },
      );
    }
    return this.conclude(evaluation, ctx, transport, plan.headerCache);
  }

  private conclude(evaluation: Evaluation, ctx: ThrottleContext, transport: TransportBinding, headerCache: RateLimitHeaderCache): true {
    emitRateLimitHeaders(transport, ctx, evaluation.decisions, this.settings.headers, headerCache);
    if (evaluation.allowed) return true;
    const error = transport.throttledError(evaluation.wait, ctx);
    const wait = evaluation.wait === null ? null : Math.ceil(evaluation.wait);
    if (wait !== null && wait > 0) transport.setHeader(ctx, 'retry-after', String(wait));
    throw error;
  }
}
