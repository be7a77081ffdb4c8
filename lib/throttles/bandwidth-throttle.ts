import { Injectable, Logger, type Type } from '@nestjs/common';
import { type ByteRateInput, parseByteRate } from '../core/byte-rate.js';
import { describeValue } from '../core/describe-value.js';
import type { Rate } from '../core/rate.js';
import type { CountingAlgorithm, HitResult, WindowCheck } from '../core/store.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import { RequestBodyMeter } from '../http/request-body-meter.js';
import { ResponseByteMeter, type ResponseCloseListener } from '../http/response-byte-meter.js';
import { INHERITS_SCOPE, type RateThrottleOverrides, SimpleRateThrottle } from './simple-rate-throttle.js';
import { ALLOWED, type ThrottleContext, type ThrottleDecision } from './throttle.js';

/** The algorithms that count bytes in constant memory ('sliding-log' would keep one entry per byte). */
export type BandwidthAlgorithm = Exclude<CountingAlgorithm, 'sliding-log'>;
export const BANDWIDTH_ALGORITHMS: readonly BandwidthAlgorithm[] = ['sliding-window', 'gcra', 'fixed-window'];

/** RateLimit-Policy's `qu` for a byte budget (draft-ietf-httpapi-ratelimit-headers). */
export const CONTENT_BYTES = 'content-bytes';

/** What `BandwidthThrottle.with()` may override: a rate throttle's options, in bytes, and the request body. */
export interface BandwidthThrottleOverrides extends Omit<RateThrottleOverrides, 'rate' | 'algorithm' | 'cost' | 'blockFor'> {
  /** A byte rate: '100MB/day', '512KiB/min', { limit: bytes, duration: seconds } (see parseByteRate). */
  readonly rate?: ByteRateInput;
  /** Default 'sliding-window' (the module's `algorithm`, for request rates, does not apply). */
  readonly algorithm?: BandwidthAlgorithm;
  /** gcra only: bytes admitted at once on an idle key; default the rate's limit. */
  readonly burst?: number;
  /** Also count the request body's bytes (uploads); default false. */
  readonly countRequestBody?: boolean;
}

/** Where the transports that have a response body are: HTTP, and GraphQL over HTTP. */
const METERED_TRANSPORTS = new Set(['http', 'graphql']);

const logger = new Logger('ThrottlingModule');

/**
 * A byte budget per period: `BandwidthThrottle.with({ rate: '100MB/day' })`, or `rates: { bandwidth:
 * '100MB/day' }`. Counted per user id, else per client address (as UserThrottle), on the response
 * body bytes actually written (and, with `countRequestBody`, the request body's), recorded when the
 * response is over, finished or closed early. A client is admitted while at least one byte of its
 * budget is left, so the response that spends the budget is served whole; after it the client is
 * refused (429, Retry-After) until enough bytes have left the window for one more byte.
 *
 * - Counted with a constant-memory algorithm: 'sliding-window' (default), 'gcra' (with `burst`) or
 *   'fixed-window'; 'sliding-log' is refused at boot (one entry per byte). `cost` and `blockFor` do
 *   not apply (a response costs its bytes; the check counts nothing, so it starts no block), and a
 *   route's `@ThrottleCost` is not read.
 * - Only HTTP responses (Express, Fastify, GraphQL over HTTP) have a body: on WebSockets and
 *   microservices the throttle does not apply (a warning says so once per transport). A manual
 *   check without a response (ThrottlingService with an identity) answers and counts nothing.
 * - A throttled response (429, whichever throttle refused it) counts nothing, so a client retrying
 *   early never pushes its own Retry-After further. Shadow mode counts what the client was served
 *   (on GraphQL, whose refusals are 200s with an error, an operation over budget counts nothing).
 * - `RateLimit-Policy` says `qu="content-bytes"`; `RateLimit`'s `r` is the bytes left.
 */
@Injectable()
export class BandwidthThrottle extends SimpleRateThrottle implements ResponseCloseListener<WindowCheck> {
  override scope = 'bandwidth';
  /** A byte rate (see BandwidthThrottleOverrides.rate); when set it wins over `rates[scope]`. */
  declare rate?: ByteRateInput;
  /** Also count the bytes of the request body (see RequestBodyMeter for what is counted). */
  countRequestBody = false;

  private ownRateFrom: ByteRateInput | undefined;
  private ownRate: Rate | null = null;
  /** The byte rate of the scope last read from the module's `rates`. */
  private scopeRateScope: string | undefined;
  private scopeRateFrom: unknown;
  private scopeRate: Rate | null = null;
  /** The transports already warned about (see planCheck); null until the first. */
  private warnedTransports: Set<string> | null = null;
  private warnedUnknownBody = false;
  private warnedNoOutcome = false;

  /** A configured variant, as SimpleRateThrottle.with(), with `countRequestBody` too. */
  static override with<T extends Type<SimpleRateThrottle>>(this: T, overrides: BandwidthThrottleOverrides): T {
    const { countRequestBody, ...common } = overrides ?? {};
    const Base = SimpleRateThrottle.with.call(this, common as RateThrottleOverrides) as unknown as Type<BandwidthThrottle>;
    if (countRequestBody === undefined) return Base as unknown as T;
    const counts: boolean = countRequestBody;
    const Variant = class extends Base {
      constructor(...args: any[]) {
        super(...args);
        this.countRequestBody = counts;
      }
    };
    const label = Base.name.endsWith('()') ? `${Base.name.slice(0, -1)}request body)` : `${Base.name.slice(0, -1)}, request body)`;
    Object.defineProperty(Variant, 'name', { value: label });
    Object.defineProperty(Variant, INHERITS_SCOPE, { value: (Base as unknown as Record<symbol, unknown>)[INHERITS_SCOPE] });
    return Variant as unknown as T;
  }

  getCacheKey(ctx: ThrottleContext): string | null {
    return this.formatKey(this.scopeFor(ctx)!, ctx.userId ?? ctx.ident);
  }

  /** The byte rate: the class's `rate`, else `rates[scope]` read as a byte rate. */
  override rateFor(scope: string | undefined, _ctx?: ThrottleContext): Rate | null | undefined {
    if (this.rate !== undefined) {
      if (this.rate !== this.ownRateFrom) {
        this.ownRate = parseByteRate(this.rate, `${this.constructor.name}.rate`);
        this.ownRateFrom = this.rate;
      }
      return this.ownRate;
    }
    if (scope === undefined) return undefined;
    const written = this.runtime.rateInputs?.get(scope);
    // A runtime that keeps only parsed rates (one built by hand): those are counts, i.e. bytes here.
    if (written === undefined) return this.runtime.rates.get(scope);
    if (scope !== this.scopeRateScope || written !== this.scopeRateFrom) {
      this.scopeRate = parseByteRate(written as ByteRateInput, `rates.${scope}`);
      this.scopeRateScope = scope;
      this.scopeRateFrom = written;
    }
    return this.scopeRate;
  }

  /** Its own algorithm, else 'sliding-window': the module's `algorithm` is for request rates. */
  override countingAlgorithm(): CountingAlgorithm {
    return this.algorithm ?? 'sliding-window';
  }

  /** A byte rate in the module's `rates` is checked here (the module parses them as request rates). */
  override validate(routeScope: string | undefined, where: string, routeCost?: number): void {
    const scope = this.scopeOnRoute(routeScope);
    if (this.rate === undefined && scope !== undefined && this.runtime.rateInputs?.has(scope) === true) {
      this.validateCounting(where);
      this.rateFor(scope);
      return;
    }
    super.validate(routeScope, where, routeCost);
  }

  /** The rate throttle's checks, and what does not apply to bytes. */
  protected override validateCounting(where: string): void {
    const name = `${where}: ${this.constructor.name}`;
    if (this.algorithm === 'sliding-log') {
      throw new ThrottleConfigError(`${name}: algorithm 'sliding-log' cannot count bytes: it keeps one entry per unit, i.e. per byte; use 'sliding-window' (the default), 'gcra' or 'fixed-window'`);
    }
    if (this.cost !== undefined) {
      throw new ThrottleConfigError(`${name}: cost does not apply to a bandwidth throttle (a response costs the bytes it sends), got cost ${describeValue(this.cost)}`);
    }
    if (this.blockFor !== undefined && this.blockFor !== 0) {
      throw new ThrottleConfigError(`${name}: blockFor does not apply to a bandwidth throttle (its check counts nothing, the bytes are recorded after the response), got blockFor ${describeValue(this.blockFor)}`);
    }
    if (typeof this.countRequestBody !== 'boolean') {
      throw new ThrottleConfigError(`${name}: countRequestBody must be true or false, got ${describeValue(this.countRequestBody)}`);
    }
    super.validateCounting(where);
  }

  /**
   * "Is one byte left?": answered without counting (`record: false`, cost 1); the bytes are
   * recorded when the response is over (responseClosed). Null where there is no response body.
   */
  override planCheck(ctx: ThrottleContext): WindowCheck | null {
    if (!METERED_TRANSPORTS.has(ctx.transport)) {
      this.warnNotApplied(ctx);
      return null;
    }
    const rate = this.rateFor(this.scopeFor(ctx), ctx);
    if (!rate) return null;
    const key = this.getCacheKey(ctx);
    if (key === null) return null;
    const algorithm = this.countingAlgorithm();
    if (algorithm !== 'gcra') return { key, limit: rate.limit, windowMs: rate.durationMs, record: false, cost: 1, algorithm };
    // As SimpleRateThrottle: a limit of 0 admits nothing, under gcra too.
    return { key, limit: rate.limit, windowMs: rate.durationMs, record: false, cost: 1, algorithm, burst: rate.limit === 0 ? 0 : (this.burst ?? rate.limit) };
  }

  /** The decision in bytes (`quotaUnit` 'content-bytes'); starts counting the response's bytes. */
  override decide(check: WindowCheck, result: HitResult, ctx: ThrottleContext): ThrottleDecision {
    // A store that ignores algorithms answers a sliding log's count: nothing a byte budget can use.
    if (result.outcome === undefined && result.uncounted !== true) {
      this.warnNoOutcome();
      return ALLOWED;
    }
    // A refused GraphQL operation answers 200 with an error, indistinguishable from one a shadow
    // throttle let through: it counts nothing, so retrying never pushes the wait further.
    if (result.allowed || ctx.transport !== 'graphql') this.meter(check, ctx);
    const decision = super.decide(check, result, ctx);
    if (decision.limit === undefined) return decision;
    if (!decision.allowed) return { ...decision, quotaUnit: CONTENT_BYTES };
    // The store answered as if the probe's byte were counted; nothing was, so it is still left, and
    // a budget untouched has nothing to come back (its reset is now, not when that byte would leave).
    const remaining = Math.min(decision.limit, (decision.remaining ?? 0) + 1);
    return remaining === decision.limit ? { ...decision, remaining, reset: 0, quotaUnit: CONTENT_BYTES } : { ...decision, remaining, quotaUnit: CONTENT_BYTES };
  }

  /** Called by the response's meter when it is over: records the bytes it counted. */
  responseClosed(meter: ResponseByteMeter, check: WindowCheck): void {
    if (meter.response.statusCode === 429) return;
    let bytes = meter.sent;
    if (this.countRequestBody) {
      const body = RequestBodyMeter.on(meter.response.req);
      if (body !== undefined) {
        bytes += body.received();
        if (body.unknownSize) this.warnUnknownBody();
      }
    }
    if (bytes > 0) this.recordBytes(check, bytes);
  }

  /** Counts `bytes` on the check's key now, past the limit if need be; failures are logged, never thrown. */
  protected recordBytes(check: WindowCheck, bytes: number): void {
    const { key, windowMs, limit, algorithm, burst } = check;
    try {
      const done = this.runtime.store.record([burst === undefined ? { key, windowMs, limit, algorithm, cost: bytes } : { key, windowMs, limit, algorithm, burst, cost: bytes }]);
      if (typeof (done as Promise<void> | undefined)?.then === 'function') (done as Promise<void>).then(undefined, (error: unknown) => this.recordFailed(key, bytes, error));
    } catch (error) {
      this.recordFailed(key, bytes, error);
    }
  }

  /** Attaches the meters to this request's response (and request body) and listens for its end. */
  private meter(check: WindowCheck, ctx: ThrottleContext): void {
    const response = ctx.response?.raw ?? ctx.response;
    const meter = ResponseByteMeter.of(response);
    // A manual check without a response (ThrottlingService with an identity) only answers.
    if (meter === undefined) return;
    if (!meter.onClose(this, check)) return;
    if (this.countRequestBody) {
      const request = ctx.request?.raw ?? ctx.request;
      RequestBodyMeter.of(request, ctx.request?.rawBody ?? request?.rawBody);
    }
  }

  private recordFailed(key: string, bytes: number, error: unknown): void {
    logger.error(`${this.constructor.name}: could not record ${bytes} bytes sent on ${key}: ${(error as Error | undefined)?.message ?? String(error)}`);
  }

  private warnNotApplied(ctx: ThrottleContext): void {
    const warned = (this.warnedTransports ??= new Set());
    if (warned.has(ctx.transport)) return;
    warned.add(ctx.transport);
    const where = ctx.controller === undefined ? '' : ` (${ctx.controller.name}${ctx.handler === undefined ? '' : `.${ctx.handler.name}`})`;
    logger.warn(`${this.constructor.name} does not apply to ${ctx.transport} requests${where}: only HTTP responses, GraphQL over HTTP included, have a body whose bytes it counts`);
  }

  private warnNoOutcome(): void {
    if (this.warnedNoOutcome) return;
    this.warnedNoOutcome = true;
    logger.error(
      `${this.constructor.name}: the store ${this.runtime.store.constructor.name} does not count with algorithms (its hit() reports no outcome for '${this.countingAlgorithm()}'): bytes are neither checked nor counted`,
    );
  }

  private warnUnknownBody(): void {
    if (this.warnedUnknownBody) return;
    this.warnedUnknownBody = true;
    logger.warn(
      `${this.constructor.name}: countRequestBody: a chunked request body was read before throttling (by a body parser) and its size is unknown, so it counts 0; ` +
        'create the app with { rawBody: true } to count it, or send a Content-Length',
    );
  }
}
