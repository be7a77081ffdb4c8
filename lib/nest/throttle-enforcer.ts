import { type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { setResponseHeader } from '../http/http-client.js';
import { writeRateLimitHeaders } from '../http/rate-limit-headers.js';
import { type Evaluation, evaluateThrottles, isPromise } from '../throttles/evaluate-throttles.js';
import type { ThrottleContext } from '../throttles/throttle.js';
import { markHandled } from './handled-requests.js';
import { httpThrottleContext } from './http-throttle-context.js';
import type { RoutePlan } from './throttle-registry.js';
import { ThrottleRegistry } from './throttle-registry.js';
import { ThrottledException } from './throttled.exception.js';
import type { ThrottlingSettings } from './throttling-settings.js';
import { THROTTLING_SETTINGS } from './tokens.js';

/**
 * Runs the throttles of one request and turns the verdict into headers or a ThrottledException.
 * Shared by the guard and the interceptor, which differ only in when they run.
 */
@Injectable()
export class ThrottleEnforcer {
  constructor(
    private readonly registry: ThrottleRegistry,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
  ) {}

  /** Resolves to true, or throws ThrottledException. Synchronous on the embedded store. */
  enforce(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const plan = this.registry.planFor(context.getClass(), context.getHandler());
    if (isPromise(plan)) return plan.then((resolved) => this.enforceHttp(resolved, context));
    return this.enforceHttp(plan, context);
  }

  private enforceHttp(plan: RoutePlan, context: ExecutionContext): boolean | Promise<boolean> {
    if (plan.throttles.length === 0) return true;
    const request = context.getArgByIndex(0);
    if (markHandled(request)) return true;
    const ctx = httpThrottleContext(context, request, context.getArgByIndex(1), plan.scope, this.settings);
    const evaluation = evaluateThrottles(plan.throttles, ctx, this.settings.runtime.store);
    if (isPromise(evaluation)) return evaluation.then((settled) => this.conclude(settled, ctx));
    return this.conclude(evaluation, ctx);
  }

  private conclude(evaluation: Evaluation, ctx: ThrottleContext): true {
    const response = ctx.response;
    writeRateLimitHeaders((name, value) => setResponseHeader(response, name, value), evaluation.decisions, this.settings.headers);
    if (evaluation.allowed) return true;
    const exception = new ThrottledException(evaluation.wait);
    if (exception.wait !== null && exception.wait > 0) setResponseHeader(response, 'Retry-After', String(exception.wait));
    throw exception;
  }
}
