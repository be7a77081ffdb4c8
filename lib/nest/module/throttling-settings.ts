import type { Type } from '@nestjs/common';
import { Inject, Logger } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { type Clock, systemClock, validClock } from '../../core/clock.js';
import { parseRate, type Rate } from '../../core/rate.js';
import type { ThrottleStore } from '../../core/store.js';
import { describeValue } from '../../core/describe-value.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { RATE_LIMIT_HEADER_MODES, type RateLimitHeaderMode } from '../../http/rate-limit-headers.js';
import { ERROR_FORMATS, type ErrorFormat } from '../../http/problem-details.js';
import { MemoryThrottleStore } from '../../stores/memory-throttle-store.js';
import { FailSafeThrottleStore, STORE_ERROR_POLICIES, type StoreStateChange } from '../../stores/fail-safe-throttle-store.js';
import type { Throttle } from '../../throttles/throttle.js';
import { isTastypieStyleClass } from '../../throttles/tastypie/tastypie-throttle-adapter.js';
import { validateAlgorithm } from '../../throttles/counting-options.js';
import type { EntryPoint, ThrottlingRuntime } from '../../throttles/throttling-runtime.js';
import type { EnforcementPoint, ThrottlingModuleOptions } from './throttling-options.interface.js';
import { rpcIdentityReader } from '../transports/rpc-transport.js';
import type { RpcIdentityReader, TransportBinding, TransportSettings, UserIdReader } from '../transports/transport-binding.js';
import { TRANSPORT_BINDINGS } from '../transports/transport-bindings.js';
import { idText } from '../../core/id-text.js';
import { clientIdentityFromOptions } from './client-identity-settings.js';
import { createOperationSettings, type OperationSettings, reportStoreMetrics } from './operation-settings.js';

/** The options once validated, with defaults filled in and the store built (mode, metrics, hooks: see OperationSettings). */
export interface ThrottlingSettings extends OperationSettings, TransportSettings {
  readonly runtime: ThrottlingRuntime;
  readonly defaultThrottles: readonly Type<Throttle>[];
  readonly numProxies: number | undefined;
  readonly headers: RateLimitHeaderMode;
  /** How throttled and store-outage errors are shaped: 'nest' (default) or 'problem' (RFC 9457). */
  readonly errorFormat: ErrorFormat;
  readonly enforceAt: EnforcementPoint;
  /** Scopes whose rate did not parse, reported by the registry with the throttle that uses them. */
  readonly badRates: ReadonlyMap<string, ThrottleConfigError>;
  /** Whether the module built the store (and so closes it on shutdown). */
  readonly ownsStore: boolean;
  /** The binding of each ExecutionContext type the guard throttles: the built-ins and the `transports` option. */
  readonly transports: ReadonlyMap<string, TransportBinding>;
  /** forRoot or forRootAsync, for messages (also on `runtime`, for the throttles' own). */
  readonly entryPoint: EntryPoint;
}

const KNOWN_OPTIONS = new Set(['defaultThrottles', 'rates', 'algorithm', 'numProxies', 'trustedProxies', 'forwardedHeader', 'ipv6Subnet', 'store', 'clock', 'headers', 'userId', 'enforceAt', 'maxKeys', 'rpcIdentity', 'onStoreError', 'storeTimeout', 'accessLog', 'transports', 'mode', 'shadowHeaders', 'onThrottled', 'onStoreStateChange', 'metrics', 'errorFormat']);

/** DRF reads `request.user.pk`; Nest apps usually carry `id` (or a JWT's `sub`). */
export const defaultUserId: UserIdReader = (_request, user) => {
  if (user === null || user === undefined || typeof user !== 'object') return null;
  const candidate = user as { id?: unknown; sub?: unknown; pk?: unknown };
  const id = candidate.id ?? candidate.sub ?? candidate.pk;
  return id === null || id === undefined ? null : (id as string | number);
};

/** Validates the user's options; every error names the option and quotes the bad value. */
export async function createThrottlingSettings(options: ThrottlingModuleOptions | undefined, moduleRef: ModuleRef, staticEnforceAt?: EnforcementPoint, entryPoint: EntryPoint = 'forRoot'): Promise<ThrottlingSettings> {
  if (options === null || typeof options !== 'object') {
    throw new ThrottleConfigError(`ThrottlingModule: options must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new ThrottleConfigError(`ThrottlingModule: unknown option '${key}'; known options are ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  const clock = options.clock === undefined ? systemClock : validClock(options.clock, 'ThrottlingModule: clock');

  const { rates, badRates } = parseRates(options.rates);
  const algorithm = validateAlgorithm(options.algorithm, 'ThrottlingModule') ?? 'sliding-log';
  const defaultThrottles = validateDefaultThrottles(options.defaultThrottles);

  const clientIdentity = clientIdentityFromOptions(options, 'ThrottlingModule');
  const headers = options.headers ?? 'ietf';
  if (!RATE_LIMIT_HEADER_MODES.includes(headers)) {
    throw new ThrottleConfigError(`ThrottlingModule: headers must be 'ietf', 'legacy', 'both' or false, got ${describeValue(headers)}`);
  }
  const errorFormat = options.errorFormat ?? 'nest';
  if (!ERROR_FORMATS.includes(errorFormat)) {
    throw new ThrottleConfigError(`ThrottlingModule: errorFormat must be 'nest' or 'problem', got ${describeValue(errorFormat)}`);
  }
  const userId = options.userId ?? defaultUserId;
  if (typeof userId !== 'function') throw new ThrottleConfigError(`ThrottlingModule: userId must be a function (request, user) => id, got ${describeValue(userId)}`);
  const rpcIdentity = rpcIdentityReader(options.rpcIdentity);

  const enforceAt = options.enforceAt ?? staticEnforceAt ?? 'guard';
  if (enforceAt !== 'guard' && enforceAt !== 'interceptor') {
    throw new ThrottleConfigError(`ThrottlingModule: enforceAt must be 'guard' or 'interceptor', got ${describeValue(enforceAt)}`);
  }
  if (staticEnforceAt !== undefined && options.enforceAt !== undefined && options.enforceAt !== staticEnforceAt) {
    throw new ThrottleConfigError(`ThrottlingModule: enforceAt '${options.enforceAt}' from the factory differs from '${staticEnforceAt}' given to forRootAsync(); give it to forRootAsync() only`);
  }
  const transports = transportBindings(options.transports);
  const operations = await createOperationSettings(options, clock);
  const { store, ownsStore } = withFailurePolicy(options, clock, await createStore(options, clock, moduleRef), operations);
  reportStoreMetrics(store, operations.metrics);
  return {
    ...operations,
    // As written too: BandwidthThrottle reads byte rates ('100MB/day') there, which parseRate refuses.
    runtime: { store, rates, rateInputs: new Map(Object.entries(options.rates ?? {})), clock, entryPoint, algorithm },
    defaultThrottles,
    numProxies: clientIdentity.numProxies,
    clientIdentity,
    headers,
    errorFormat,
    userId: (request, user) => idText(userId(request, user)),
    rpcIdentity,
    enforceAt,
    badRates,
    ownsStore,
    transports,
    entryPoint,
  };
}

/** What every binding must do; the optional members are checked when present. */
const REQUIRED_BINDING_MEMBERS = ['requestToken', 'createContext', 'setHeader', 'throttledError'] as const;
const OPTIONAL_BINDING_MEMBERS = ['unavailableError', 'countsByDefault', 'afterResponse'] as const;

/** The built-in bindings with the user's added or replaced ones, each checked at boot. */
function transportBindings(input: ThrottlingModuleOptions['transports']): ReadonlyMap<string, TransportBinding> {
  const bindings = new Map<string, TransportBinding>();
  for (const [type, binding] of Object.entries(TRANSPORT_BINDINGS)) if (binding !== undefined) bindings.set(type, binding);
  if (input === undefined) return bindings;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ThrottleConfigError(`ThrottlingModule: transports must be an object of context type -> TransportBinding, got ${describeValue(input)}`);
  }
  for (const [type, binding] of Object.entries(input)) {
    if (binding === null || typeof binding !== 'object') {
      throw new ThrottleConfigError(`ThrottlingModule: transports.${type} must be a TransportBinding object, got ${describeValue(binding)}`);
    }
    const members = binding as unknown as Record<string, unknown>;
    for (const member of REQUIRED_BINDING_MEMBERS) {
      if (typeof members[member] !== 'function') {
        throw new ThrottleConfigError(`ThrottlingModule: transports.${type}.${member} must be a function, got ${describeValue(members[member])}`);
      }
    }
    for (const member of OPTIONAL_BINDING_MEMBERS) {
      if (members[member] !== undefined && typeof members[member] !== 'function') {
        throw new ThrottleConfigError(`ThrottlingModule: transports.${type}.${member} must be a function when given, got ${describeValue(members[member])}`);
      }
    }
    bindings.set(type, binding);
  }
  return bindings;
}

function parseRates(input: ThrottlingModuleOptions['rates']): { rates: Map<string, Rate | null>; badRates: Map<string, ThrottleConfigError> } {
  const rates = new Map<string, Rate | null>();
  const badRates = new Map<string, ThrottleConfigError>();
  if (input === undefined) return { rates, badRates };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ThrottleConfigError(`ThrottlingModule: rates must be an object of scope -> rate, got ${describeValue(input)}`);
  }
  for (const [scope, value] of Object.entries(input)) {
    try {
      rates.set(scope, parseRate(value, `rates.${scope}`));
    } catch (error) {
      if (!(error instanceof ThrottleConfigError)) throw error;
      badRates.set(scope, error);
    }
  }
  return { rates, badRates };
}

function validateDefaultThrottles(input: ThrottlingModuleOptions['defaultThrottles']): readonly Type<Throttle>[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new ThrottleConfigError(`ThrottlingModule: defaultThrottles must be an array of throttle classes, got ${describeValue(input)}`);
  input.forEach((candidate, index) => assertThrottleClass(candidate, `ThrottlingModule: defaultThrottles[${index}]`));
  // Tastypie-style classes are adapted to Throttle when the registry resolves them.
  return [...input] as Type<Throttle>[];
}

/** A throttle class has an allowRequest(ctx) method, or Tastypie's shouldBeThrottled + accessed, on its prototype. */
export function assertThrottleClass(candidate: unknown, where: string): asserts candidate is Type<Throttle> {
  const prototype = typeof candidate === 'function' ? (candidate as { prototype?: Record<string, unknown> }).prototype : undefined;
  if (typeof prototype?.allowRequest !== 'function' && !isTastypieStyleClass(candidate)) {
    throw new ThrottleConfigError(
      `${where}: ${describeValue(candidate)} is not a throttle class (a class with an allowRequest(ctx) method, or Tastypie's shouldBeThrottled(identifier, ctx) and accessed(identifier, ctx))`,
    );
  }
}

async function createStore(options: ThrottlingModuleOptions, clock: Clock, moduleRef: ModuleRef): Promise<{ store: ThrottleStore; ownsStore: boolean }> {
  const { store, maxKeys } = options;
  if (store === undefined) return { store: new MemoryThrottleStore({ clock, maxKeys }), ownsStore: true };
  if (maxKeys !== undefined) throw new ThrottleConfigError(`ThrottlingModule: maxKeys applies to the default memory store only; pass it to your store instead`);
  if (typeof store === 'function') return { store: await createStoreFromClass(store, clock, moduleRef), ownsStore: true };
  for (const method of ['hit', 'record', 'peek', 'reset'] as const) {
    if (typeof (store as unknown as Record<string, unknown>)?.[method] !== 'function') {
      throw new ThrottleConfigError(`ThrottlingModule: store must implement ThrottleStore (missing ${method}()), got ${describeValue(store)}`);
    }
  }
  return { store, ownsStore: false };
}

/**
 * Every store but the embedded one talks to something that can fail: wrap it so a failure follows
 * `onStoreError` within `storeTimeout` instead of failing requests. The wrapper is the module's to
 * close; it closes the wrapped store only when the module created that too.
 */
function withFailurePolicy(options: ThrottlingModuleOptions, clock: Clock, built: { store: ThrottleStore; ownsStore: boolean }, operations: OperationSettings): { store: ThrottleStore; ownsStore: boolean } {
  const { onStoreError, storeTimeout } = options;
  if (onStoreError !== undefined && !STORE_ERROR_POLICIES.includes(onStoreError)) {
    throw new ThrottleConfigError(`ThrottlingModule: onStoreError must be 'allow', 'deny' or 'local', got ${describeValue(onStoreError)}`);
  }
  if (storeTimeout !== undefined && (typeof storeTimeout !== 'number' || !Number.isFinite(storeTimeout) || storeTimeout <= 0)) {
    throw new ThrottleConfigError(`ThrottlingModule: storeTimeout must be a positive number of milliseconds, got ${describeValue(storeTimeout)}`);
  }
  if (built.store instanceof MemoryThrottleStore || built.store instanceof FailSafeThrottleStore) return built;
  const logger = new Logger('ThrottlingModule');
  const store = new FailSafeThrottleStore(built.store, {
    onStoreError,
    timeoutMs: storeTimeout,
    clock,
    closeInner: built.ownsStore,
    onStateChange: (change: StoreStateChange) => {
      if (change.state === 'down') {
        logger.error(`Throttle store ${built.store.constructor.name} is unavailable (${(change.error as Error)?.message ?? String(change.error)}); onStoreError '${onStoreError ?? 'local'}' applies until it recovers`);
      } else {
        logger.log(`Throttle store ${built.store.constructor.name} answers again after ${change.downForMs} ms`);
      }
      operations.notifier.storeStateChanged(change);
    },
  });
  return { store, ownsStore: true };
}

/**
 * A store class is created through DI. A class that stays free of Nest names what it needs in a
 * static `inject` list instead (e.g. CacheManagerThrottleStore: the 'CACHE_MANAGER' token); it then
 * receives those, followed by `{ clock }`.
 */
async function createStoreFromClass(storeClass: Type<ThrottleStore> & { inject?: readonly unknown[] }, clock: Clock, moduleRef: ModuleRef): Promise<ThrottleStore> {
  try {
    if (storeClass.inject === undefined) return await moduleRef.create(storeClass);
    return new storeClass(...(await resolveTokens(storeClass.inject, moduleRef)), { clock });
  } catch (error) {
    throw new ThrottleConfigError(`ThrottlingModule: cannot create store ${storeClass.name}: ${storeCreationFailure(storeClass, error)}`);
  }
}

/**
 * Why a store class could not be created. Nest's own message for a missing `inject` token names our
 * internal resolver class, which tells the user nothing: say which token is missing and how to
 * provide it instead.
 */
function storeCreationFailure(storeClass: Type<ThrottleStore> & { inject?: readonly unknown[] }, error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  // Nest's UnknownDependenciesException is not exported from @nestjs/core's entry point: known by its class name.
  if (storeClass.inject === undefined || (error as object | null)?.constructor?.name !== 'UnknownDependenciesException') return message;
  const tokens = storeClass.inject.map((token) => (typeof token === 'function' ? token.name : String(token))).join(', ');
  const fix = storeClass.inject.includes('CACHE_MANAGER')
    ? 'register the cache for the whole app (CacheModule.register({ isGlobal: true }) in your root module), or create the store yourself: ' +
      'ThrottlingModule.forRootAsync({ imports: [CacheModule.register()], inject: [CACHE_MANAGER], useFactory: (cache) => ({ store: new CacheManagerThrottleStore(cache) }) })'
    : 'make that provider global, or create the store yourself in ThrottlingModule.forRootAsync() and pass the instance as `store`';
  return `it needs ${tokens}, which ThrottlingModule cannot see: ${fix}`;
}

/**
 * Resolves tokens through the injector rather than moduleRef.get(): providers are created in
 * parallel, and one with an async factory (CACHE_MANAGER) may not exist yet; the injector waits.
 */
async function resolveTokens(tokens: readonly unknown[], moduleRef: ModuleRef): Promise<unknown[]> {
  class StoreDependencies {
    readonly values: unknown[];
    constructor(...values: unknown[]) {
      this.values = values;
    }
  }
  tokens.forEach((token, index) => Inject(token as string)(StoreDependencies, undefined, index));
  return (await moduleRef.create(StoreDependencies)).values;
}
