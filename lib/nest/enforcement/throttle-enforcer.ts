import { type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { emitRateLimitHeaders } from '../../http/rate-limit-headers.js';
import { StoreUnavailableError } from '../../stores/store-unavailable-error.js';
import { type Evaluation, evaluateThrottles, isPromise, settleEvaluation } from '../../throttles/evaluate-throttles.js';
import type { ThrottleContext } from '../../throttles/throttle.js';
import { markHandled } from './handled-requests.js';
import { storeUnavailableException } from '../transports/store-unavailable-message.js';
import { releaseUnhandled, rememberAccess } from './pending-accesses.js';
import { ThrottleRegistry, type RoutePlan } from './throttle-registry.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { THROTTLING_SETTINGS } from '../module/tokens.js';
import type { TransportBinding } from '../transports/transport-binding.js';
import { hasOwnThrottleMetadata } from '../decorators/own-throttle-metadata.js';
import { retryAfterSeconds } from '../../core/wait.js';
import { recordDecisions } from '../../metrics/record-decisions.js';
import { enforcedDecisions, enforcedDenials, enforcedVerdict } from './shadow-plan.js';
import { withRouteCost } from './route-cost-context.js';

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
    const ctx = withRouteCost(transport.createContext(context, plan.scope, this.settings, plan.cost), plan.cost);
    // Throttles that record after the handler (Tastypie) reserve their slot now; the access
    // interceptor settles it with the handler's outcome.
    const reserving = plan.accessedThrottles.length > 0;
    const evaluation = evaluateThrottles(plan.throttles, ctx, this.settings.runtime.store, reserving);
    if (isPromise(evaluation)) {
      return evaluation.then(
        (settled) => this.conclude(settled, ctx, transport, plan, reserving ? token : null),
        (error: unknown) => {
          // onStoreError 'deny': the store's outage is the server's problem, so a 503, not a 429 or a 500,
          // with a Retry-After of when the store is tried again.
          if (!(error instanceof StoreUnavailableError)) throw error;
          const retryAfter = error.retryAfter;
          if (retryAfter !== null) transport.setHeader(ctx, 'retry-after', String(retryAfter));
          throw transport.unavailableError?.(ctx, retryAfter, this.settings.errorFormat) ?? storeUnavailableException(error);
        },
      );
    }
    return this.conclude(evaluation, ctx, transport, plan, reserving ? token : null);
  }

  /** `token`: the request's, when its throttles record later and so get its outcome. */
  private conclude(evaluation: Evaluation, ctx: ThrottleContext, transport: TransportBinding, plan: RoutePlan, token: object | null): true {
    const { metrics, shadowHeaders } = this.settings;
    if (metrics !== null) recordDecisions(metrics, evaluation.decisions, ctx.transport, plan.shadow ?? undefined);
    if (!evaluation.allowed) this.settings.notifier.denied(ctx, evaluation.decisions, plan);
    // Shadow throttles count and report, but only the enforcing ones deny (and set the Retry-After).
    const verdict = plan.shadow === null ? evaluation : enforcedVerdict(evaluation, plan.shadow);
    const shown = plan.shadow === null || shadowHeaders ? evaluation.decisions : enforcedDecisions(evaluation.decisions, plan.shadow);
    emitRateLimitHeaders(transport, ctx, shown, this.settings.headers, plan.headerCache);
    if (verdict.allowed) {
      if (token !== null) {
        rememberAccess(token, { ctx, throttles: plan.throttles, reservations: evaluation.reservations });
        // A request that never reaches the access interceptor (a later guard throws) is released
        // when its response ends, where the transport has one; elsewhere its slot expires.
        transport.afterResponse?.(ctx, () => releaseUnhandled(token));
      }
      return true;
    }
    // Not served: the slots other throttles of the request reserved are freed at once.
    if (evaluation.reservations !== undefined) releaseQuietly(plan, ctx, evaluation);
    // The policies a problem body names as violated: the enforcing throttles' only.
    const decisions = plan.shadow === null ? evaluation.decisions : enforcedDenials(evaluation.decisions, plan.shadow);
    const error = transport.throttledError(verdict.wait, ctx, { decisions, errorFormat: this.settings.errorFormat });
    const retryAfter = retryAfterSeconds(verdict.wait);
    if (retryAfter !== null) transport.setHeader(ctx, 'retry-after', String(retryAfter));
    throw error;
  }
}

/** Releases a denied request's reservations; one that fails is left to expire. */
function releaseQuietly(plan: RoutePlan, ctx: ThrottleContext, evaluation: Evaluation): void {
  try {
    const released = settleEvaluation(plan.throttles, ctx, evaluation.reservations, false);
    if (released !== undefined) released.catch(() => undefined);
  } catch {
    // Left to expire.
  }
}
