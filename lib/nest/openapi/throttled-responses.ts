import { Inject, Injectable, type OnApplicationBootstrap, Optional, RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService } from '@nestjs/core';
import { RateLimitHeaderCache, type RateLimitHeaderMode } from '../../http/rate-limit-headers.js';
import { SimpleRateThrottle } from '../../throttles/simple-rate-throttle.js';
import { CacheThrottle } from '../../throttles/tastypie/cache-throttle.js';
import { NoThrottle } from '../../throttles/tastypie/no-throttle.js';
import { TastypieThrottleAdapter } from '../../throttles/tastypie/tastypie-throttle-adapter.js';
import type { Throttle, ThrottleDecision } from '../../throttles/throttle.js';
import { STORE_UNAVAILABLE_MESSAGE } from '../transports/store-unavailable-message.js';
import { ThrottleRegistry, type RoutePlan } from '../enforcement/throttle-registry.js';
import type { ThrottlingModuleOptions } from '../module/throttling-options.interface.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { THROTTLE_CLASSES_METADATA, THROTTLING_OPTIONS, THROTTLING_SETTINGS } from '../module/tokens.js';
import { OptionalPeer } from '../transports/optional-peer.js';

/** What this file uses of @nestjs/swagger: the metadata key `@ApiResponse()` writes, and the decorator. */
interface SwaggerPackage {
  readonly DECORATORS: { readonly API_RESPONSE: string };
  ApiResponse(options: Record<string, unknown>, behaviour: { overrideExisting: boolean }): (target: object, key: string, descriptor: { value: Function }) => unknown;
}

/** The static method the swagger CLI plugin adds to a controller (swagger's METADATA_FACTORY_NAME, not exported). */
const PLUGIN_METADATA_FACTORY = '_OPENAPI_METADATA_FACTORY';

/** Loaded while the app boots (loadOptionalPeers); apps without @nestjs/swagger load nothing of it. */
const swagger = new OptionalPeer<SwaggerPackage>('@nestjs/swagger');

function swaggerLoaded(): boolean {
  try {
    swagger.get();
    return true;
  } catch {
    return false;
  }
}

/** One policy of a route as planned at boot: `"user";q=1000;w=86400` in RateLimit-Policy. */
export interface DocumentedPolicy {
  readonly name: string;
  /** Requests allowed per window. */
  readonly quota: number;
  /** The window in seconds. */
  readonly window: number;
}

/** A response entry as `@ApiResponse()` stores it (status key omitted). */
type ResponseEntry = Record<string, unknown>;

/** The entries written here, so a second pass (or a second import of the module) replaces only its own. */
const OWN_ENTRIES = new WeakSet<object>();

const THROTTLED_BODY = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', enum: [429] },
    error: { type: 'string', enum: ['Too Many Requests'] },
    message: { type: 'string', description: "DRF's message; without the second sentence when the wait is unknown." },
  },
  example: { statusCode: 429, error: 'Too Many Requests', message: 'Request was throttled. Expected available in 5 seconds.' },
};

const UNAVAILABLE_BODY = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', enum: [503] },
    error: { type: 'string', enum: ['Service Unavailable'] },
    message: { type: 'string', enum: [STORE_UNAVAILABLE_MESSAGE] },
  },
};

const RETRY_AFTER = { description: 'Seconds to wait before retrying (rounded up); sent when the wait is known.', schema: { type: 'integer', minimum: 1 } };

/**
 * Documents every throttled HTTP route's 429 (and, under `onStoreError: 'deny'`, its 503) in the
 * @nestjs/swagger metadata of its handler, so `SwaggerModule.createDocument()` shows them with no
 * call by the user. Written twice: when this provider is created, from the route's throttle classes
 * (a document made right after `NestFactory.create()`, before `app.init()`, sees the 429s), and once
 * the registry has planned every route, with the policies each route's throttles plan.
 * A 429 or 503 the user documented (on the handler or the controller) is left as it is.
 */
@Injectable()
export class ThrottledResponses implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly registry: ThrottleRegistry,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
    @Optional() @Inject(THROTTLING_OPTIONS) private readonly options?: ThrottlingModuleOptions,
  ) {
    // The settings factory loaded the optional peers, unless a test replaced THROTTLING_SETTINGS with a value.
    if (swaggerLoaded()) this.documentRoutes(() => undefined);
  }

  /** After every onModuleInit: the registry has planned each controller route by then. */
  async onApplicationBootstrap(): Promise<void> {
    await swagger.load();
    this.documentRoutes((type, handler) => {
      const plan = this.registry.planFor(type, handler);
      return plan instanceof Promise ? undefined : plan;
    });
  }

  private documentRoutes(planOf: (type: Function, handler: Function) => RoutePlan | undefined): void {
    const exports = swagger.get();
    if (exports === undefined) return;
    const key = exports.DECORATORS.API_RESPONSE;
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype;
      if (typeof type !== 'function' || wrapper.isNotMetatype) continue;
      for (const [name, handler] of routeHandlers(type)) {
        const plan = planOf(type, handler);
        if (plan === undefined ? !namesThrottles(type, handler, this.settings) : !canThrottle(plan)) {
          removeOwn(key, handler);
          continue;
        }
        const policies = plan === undefined ? undefined : documentedPolicies(plan);
        const entries: Record<string, ResponseEntry> = { 429: throttledResponse(this.settings.headers, policies) };
        if (this.options?.onStoreError === 'deny') entries[503] = unavailableResponse();
        applyPluginResponses(exports, type, name, handler);
        merge(key, type, handler, entries);
      }
    }
  }
}

/** The policies of a planned route whose limits are known at boot: rate throttles and Tastypie's CacheThrottle. */
export function documentedPolicies(plan: RoutePlan): DocumentedPolicy[] {
  const policies: DocumentedPolicy[] = [];
  for (const throttle of plan.throttles) {
    if (throttle instanceof SimpleRateThrottle) {
      const scope = throttle.scopeOnRoute(plan.scope);
      const rate = rateAtBoot(throttle, scope);
      if (!rate) continue;
      // What the route's RateLimit-Policy header will say (gcra: its burst and refill time).
      const { quota, window } = throttle.policyOf(rate);
      policies.push({ name: scope ?? `policy${policies.length + 1}`, quota, window: Math.ceil(window) });
    } else if (throttle instanceof TastypieThrottleAdapter && throttle.inner instanceof CacheThrottle) {
      const inner = throttle.inner;
      policies.push({ name: inner.scope ?? 'tastypie', quota: inner.throttleAt, window: inner.timeframe });
    }
  }
  return policies;
}

/** The route's policies as a RateLimit-Policy value, built by the code that writes the header. */
export function policyHeaderValue(policies: readonly DocumentedPolicy[]): string {
  const decisions: ThrottleDecision[] = policies.map(({ name, quota, window }) => ({ allowed: true, wait: null, limit: quota, window, policy: name }));
  return new RateLimitHeaderCache().policyHeader(decisions);
}

function throttledResponse(mode: RateLimitHeaderMode, policies: readonly DocumentedPolicy[] | undefined): ResponseEntry {
  const value = policies === undefined || policies.length === 0 ? undefined : policyHeaderValue(policies);
  const description =
    'Too Many Requests: the request was throttled. `message` is `Request was throttled. Expected available in <n> seconds.` ' +
    '(`1 second` when one), and Retry-After gives the same wait.' +
    (value === undefined ? '' : ` Policies: \`${value}\`.`);
  return {
    description,
    schema: THROTTLED_BODY,
    headers: { 'Retry-After': RETRY_AFTER, ...rateLimitHeaders(mode, value) },
    ...(policies === undefined ? {} : { 'x-ratelimit-policies': policies }),
  };
}

function unavailableResponse(): ResponseEntry {
  return {
    description: "Service Unavailable: the throttle store is unreachable and `onStoreError` is 'deny'; Retry-After says when to retry, when known.",
    schema: UNAVAILABLE_BODY,
    headers: { 'Retry-After': RETRY_AFTER },
  };
}

/** The headers the guard sends on this route's responses, per the module's `headers` option. */
function rateLimitHeaders(mode: RateLimitHeaderMode, policyValue: string | undefined): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  if (mode === 'ietf' || mode === 'both') {
    headers['RateLimit'] = {
      description: 'Each policy\'s remaining quota and seconds to its reset (draft-ietf-httpapi-ratelimit-headers, a structured field list): `"user";r=0;t=42`.',
      schema: { type: 'string' },
    };
    headers['RateLimit-Policy'] = {
      description: 'The policies in effect: quota `q` per window `w` seconds (structured field list).',
      schema: { type: 'string', ...(policyValue === undefined ? {} : { example: policyValue }) },
    };
  }
  if (mode === 'legacy' || mode === 'both') {
    headers['X-RateLimit-Limit'] = { description: 'The most restrictive policy\'s quota.', schema: { type: 'integer' } };
    headers['X-RateLimit-Remaining'] = { description: 'Requests left in its window.', schema: { type: 'integer' } };
    headers['X-RateLimit-Reset'] = { description: 'Seconds until its window resets.', schema: { type: 'integer' } };
  }
  return headers;
}

/** Our entries into the handler's responses, never over one the user wrote (on the handler or the controller). */
function merge(key: string, type: Function, handler: Function, entries: Record<string, ResponseEntry>): void {
  const existing: Record<string, unknown> | undefined = Reflect.getMetadata(key, handler);
  const controllerLevel: Record<string, unknown> | undefined = Reflect.getMetadata(key, type);
  // Without responses of its own swagger documents the route's default status; keep it once we add ours.
  const responses: Record<string, unknown> = existing === undefined ? { [defaultStatus(handler)]: { description: '' } } : { ...existing };
  for (const [status, entry] of Object.entries(entries)) {
    const current = responses[status];
    if (current !== undefined && !OWN_ENTRIES.has(current as object)) continue;
    if (controllerLevel?.[status] !== undefined) continue;
    OWN_ENTRIES.add(entry);
    responses[status] = entry;
  }
  for (const status of Object.keys(responses)) {
    if (!(status in entries) && OWN_ENTRIES.has(responses[status] as object)) delete responses[status];
  }
  Reflect.defineMetadata(key, responses, handler);
}

function removeOwn(key: string, handler: Function): void {
  const existing: Record<string, unknown> | undefined = Reflect.getMetadata(key, handler);
  if (existing === undefined) return;
  const kept = Object.fromEntries(Object.entries(existing).filter(([, entry]) => !OWN_ENTRIES.has(entry as object)));
  Reflect.defineMetadata(key, kept, handler);
}

/** What swagger documents for a handler with no responses of its own: @HttpCode, else 201 for POST, else 200. */
function defaultStatus(handler: Function): number {
  const code: unknown = Reflect.getMetadata(HTTP_CODE_METADATA, handler);
  if (typeof code === 'number') return code;
  return Reflect.getMetadata(METHOD_METADATA, handler) === RequestMethod.POST ? 201 : 200;
}

/**
 * The responses the swagger CLI plugin inferred for a handler (its return type), written as swagger
 * writes them while it makes the document: it skips them when the handler has responses, and ours
 * would otherwise hide them.
 */
function applyPluginResponses(exports: SwaggerPackage, type: Function, name: string, handler: Function): void {
  if (Reflect.getMetadata(exports.DECORATORS.API_RESPONSE, handler) !== undefined) return;
  for (let ctor: any = type; typeof ctor === 'function' && ctor !== Function.prototype; ctor = Object.getPrototypeOf(ctor)) {
    if (typeof ctor[PLUGIN_METADATA_FACTORY] !== 'function') continue;
    const { summary: _summary, deprecated: _deprecated, tags: _tags, ...meta } = (ctor[PLUGIN_METADATA_FACTORY]()?.[name] ?? {}) as Record<string, unknown>;
    if (Object.keys(meta).length === 0) continue;
    meta.status ??= defaultStatus(handler);
    exports.ApiResponse(meta, { overrideExisting: false })(type.prototype, name, { value: handler });
  }
}

/** The HTTP route handlers of a controller class, its base classes' included, by method name. */
function routeHandlers(type: Function): [string, Function][] {
  const handlers: [string, Function][] = [];
  const seen = new Set<string>();
  for (let proto = type.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || seen.has(name)) continue;
      seen.add(name);
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value;
      if (typeof value === 'function' && Reflect.getMetadata(PATH_METADATA, value) !== undefined) handlers.push([name, value]);
    }
  }
  return handlers;
}

/** Before the registry planned: whether the route names throttle classes (handler, else controller, else the defaults). */
function namesThrottles(type: Function, handler: Function, settings: ThrottlingSettings): boolean {
  const classes: unknown = Reflect.getMetadata(THROTTLE_CLASSES_METADATA, handler) ?? Reflect.getMetadata(THROTTLE_CLASSES_METADATA, type) ?? settings.defaultThrottles;
  return Array.isArray(classes) && classes.some((throttleClass) => throttleClass !== NoThrottle);
}

/** A planned route can answer 429 unless it has no throttles, or only no-ops and rate throttles switched off. */
function canThrottle(plan: RoutePlan): boolean {
  return plan.throttles.some((throttle) => !isOff(throttle, plan.scope));
}

function isOff(throttle: Throttle, scope: string | undefined): boolean {
  if (throttle instanceof TastypieThrottleAdapter) return throttle.inner.constructor === NoThrottle;
  // A throttle that picks its rate per request (an overridden rateFor) may still throttle.
  if (throttle instanceof SimpleRateThrottle && throttle.rateFor === SimpleRateThrottle.prototype.rateFor) return rateAtBoot(throttle, throttle.scopeOnRoute(scope)) === null;
  return false;
}

function rateAtBoot(throttle: SimpleRateThrottle, scope: string | undefined) {
  try {
    return throttle.rateFor(scope);
  } catch {
    // Validated at boot already; a rate that needs the request is simply not documented.
    return undefined;
  }
}
