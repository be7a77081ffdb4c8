import { Inject, Injectable, Logger, type OnModuleInit, Optional, type Type } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { RateLimitHeaderCache } from '../../http/rate-limit-headers.js';
import type { Awaitable } from '../../core/store.js';
import { BandwidthThrottle } from '../../throttles/bandwidth-throttle.js';
import { SimpleRateThrottle } from '../../throttles/simple-rate-throttle.js';
import type { Throttle } from '../../throttles/throttle.js';
import { prepareThrottle, TastypieThrottleAdapter } from '../../throttles/tastypie/tastypie-throttle-adapter.js';
import { assertThrottleClass, type ThrottlingSettings } from '../module/throttling-settings.js';
import { requestScopedDependency } from '../boot-checks/request-scoped-dependency.js';
import { loadOptionalPeers } from '../transports/optional-peer.js';
import { THROTTLE_CLASSES_METADATA, THROTTLE_COST_METADATA, THROTTLE_SCOPE_METADATA, THROTTLING_OPTIONS, THROTTLING_SETTINGS } from '../module/tokens.js';
import { knownCount, type KnownCount, SharedKeyBook } from '../boot-checks/shared-keys.js';
import type { ThrottlingModuleOptions } from '../module/throttling-options.interface.js';
import { describeValue } from '../../core/describe-value.js';
import { moduleLabel } from '../../throttles/throttling-runtime.js';
import { throttleRecordsAfterHandler } from '../../throttles/records-after-handler.js';
import { shadowFlags } from './shadow-plan.js';
import { routeShadow } from '../decorators/throttle-shadow.decorator.js';
import { routeCost } from '../decorators/throttle-cost.decorator.js';

/** What the guard needs for one handler, worked out once. */
export interface RoutePlan {
  readonly throttles: readonly Throttle[];
  readonly scope: string | undefined;
  /** The route's @ThrottleCost (units per request), checked at boot; undefined: none (each throttle's own, else 1). */
  readonly cost: number | undefined;
  /** The throttles that want `accessed()` after the handler succeeds. */
  readonly accessedThrottles: readonly Throttle[];
  /** What the route's RateLimit headers keep between responses. */
  readonly headerCache: RateLimitHeaderCache;
  /** Per throttle: whether it runs in shadow mode; null when none does (see shadowFlags). */
  readonly shadow: readonly boolean[] | null;
  /** `Controller.handler`, and each throttle's class name: for the shadow log, hooks and events. */
  readonly route: string;
  readonly names: readonly string[];
}

const UNTHROTTLED: RoutePlan = Object.freeze({ throttles: [], scope: undefined, cost: undefined, accessedThrottles: [], headerCache: new RateLimitHeaderCache(), shadow: null, route: '', names: [] });

/**
 * Resolves throttle classes to singletons through Nest's DI and plans every route at boot.
 *
 * A throttle class is taken from the container when some module lists it as a provider; otherwise it
 * is created in the module of the controller that names it, so its constructor can inject whatever
 * that module sees. Every plan is validated at boot (rates, scopes), and the guard's per-request work
 * is two Map lookups.
 */
@Injectable()
export class ThrottleRegistry implements OnModuleInit {
  private readonly instances = new Map<Function, Promise<Throttle>>();
  private readonly resolved = new Map<Function, Throttle>();
  private readonly plans = new Map<Function, Map<Function, RoutePlan>>();
  private readonly pendingPlans = new Map<Function, Promise<RoutePlan>>();
  /** The module that declares each controller and provider, for handlers planned lazily. */
  private readonly hostRefs = new Map<Function, ModuleRef>();
  /** Each host module's name, for the error when a throttle created there lacks a dependency. */
  private readonly hostNames = new WeakMap<ModuleRef, string>();
  /** Where every planned throttle counts, so two limits sharing keys fail the boot. */
  private readonly keyBook = new SharedKeyBook((message) => new Logger('ThrottlingModule').warn(message));
  /** Throttles ThrottlingService already checked against the key book, with the scope they were used with. */
  private readonly claimed = new WeakMap<Throttle, Set<string | undefined>>();
  /** The same for throttle classes only (bounded by the classes), listed by throttleUses(). */
  private readonly manualClassUses = new Map<Throttle, Set<string | undefined>>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly moduleRef: ModuleRef,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
    @Optional() @Inject(THROTTLING_OPTIONS) private readonly options?: ThrottlingModuleOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    // Already loaded by the settings factory, unless a test replaced THROTTLING_SETTINGS with a value.
    await loadOptionalPeers();
    const usedScopes = new Set<string>();
    const controllers = this.discovery.getControllers();
    for (const wrapper of [...controllers, ...this.discovery.getProviders()]) {
      const target = targetOf(wrapper);
      if (target === undefined) continue;
      const { type, prototype } = target;
      const hostRef = hostModuleRef(wrapper) ?? this.moduleRef;
      if (!this.hostRefs.has(type)) this.hostRefs.set(type, hostRef);
      const hostName = (wrapper as { host?: { name?: unknown } }).host?.name;
      if (typeof hostName === 'string' && !this.hostNames.has(hostRef)) this.hostNames.set(hostRef, hostName);
      const methods = this.scanner.getAllMethodNames(prototype);
      // Providers (resolvers, gateways) are planned up front only when they carry our metadata;
      // any other handler is planned on its first request.
      if (!controllers.includes(wrapper) && !hasThrottleMetadata(type, prototype, methods)) continue;
      for (const method of methods) {
        const where = `${type.name}.${method}`;
        const plan = await this.buildPlan(type, prototype[method], hostRef, where, usedScopes);
        for (const [count, throttle] of this.countsOf(plan)) this.keyBook.add(count, throttle, where);
        this.store(type, prototype[method], plan);
      }
    }
    this.keyBook.assertNoConflicts();
    // A malformed rate no route uses still fails the boot: a typo must not wait for the first request.
    for (const [scope, error] of this.settings.badRates) {
      if (!usedScopes.has(scope)) throw new ThrottleConfigError(`${moduleLabel(this.settings.entryPoint)}: ${error.message}`);
    }
  }

  /** The plan of a handler; synchronous once planned, which is every controller route after boot. */
  planFor(type: Function, handler: Function): Awaitable<RoutePlan> {
    const plan = this.plans.get(type)?.get(handler);
    if (plan !== undefined) return plan;
    let pending = this.pendingPlans.get(handler);
    if (pending === undefined) {
      const hostRef = this.hostRefs.get(type) ?? this.moduleRef;
      const where = `${type.name}.${handler.name}`;
      pending = this.buildPlan(type, handler, hostRef, where, new Set()).then((built) => {
        // Checked before anything is recorded: a handler that fails here fails alone, on every request.
        const counts = this.countsOf(built);
        for (const [count, throttle] of counts) this.keyBook.assertFits(count, throttle, where);
        for (const [count, throttle] of counts) this.keyBook.add(count, throttle, where);
        this.store(type, handler, built);
        this.pendingPlans.delete(handler);
        return built;
      });
      this.pendingPlans.set(handler, pending);
    }
    return pending;
  }

  /**
   * Every throttle in use with the scope it is used with, for ThrottlingService.buckets(): the routes
   * planned so far (all controller routes after boot), then the throttle classes ThrottlingService
   * has been called with (a `{ scope, rate }` spec is not kept: its rate may be computed per call).
   */
  *throttleUses(): IterableIterator<{ readonly throttles: readonly Throttle[]; readonly scope: string | undefined }> {
    for (const byHandler of this.plans.values()) yield* byHandler.values();
    for (const [throttle, scopes] of this.manualClassUses) for (const scope of scopes) yield { throttles: [throttle], scope };
  }

  /**
   * Checks a throttle ThrottlingService uses against every planned one: counting in the same keys with
   * another limit throws a ThrottleConfigError. `record` adds it to the book (a throttle class); a
   * `{ scope, rate }` spec is only checked, as its rate may be computed per call (a customer's plan).
   */
  claimKeys(throttle: Throttle, scope: string | undefined, label: string, record: boolean): void {
    let scopes = this.claimed.get(throttle);
    if (scopes?.has(scope)) return;
    const count = knownCount(throttle, scope, this.options?.rates);
    if (count !== undefined) {
      this.keyBook.assertFits(count, label, 'ThrottlingService');
      if (record) this.keyBook.add(count, label, 'ThrottlingService');
    }
    if (scopes === undefined) this.claimed.set(throttle, (scopes = new Set()));
    scopes.add(scope);
    if (record) this.manualClassUses.set(throttle, scopes);
  }

  /** The singleton of a throttle class, resolving it through DI on first use. */
  async resolve(throttleClass: Type<Throttle>, hostRef: ModuleRef = this.moduleRef, where = 'ThrottlingService'): Promise<Throttle> {
    let instance = this.instances.get(throttleClass);
    if (instance === undefined) {
      assertThrottleClass(throttleClass, where);
      // Tastypie-style classes (shouldBeThrottled/accessed) are checked and adapted to Throttle here.
      instance = this.instantiate(throttleClass, hostRef, where).then((created) => prepareThrottle(created, where));
      this.instances.set(throttleClass, instance);
      instance.then((created) => this.resolved.set(throttleClass, created), () => this.instances.delete(throttleClass));
    }
    return instance;
  }

  /**
   * A new instance that the registry does not keep, for throttle classes made per call (the
   * `{ scope, rate }` specs of ThrottlingService): keeping each one here would grow without bound.
   */
  createDetached(throttleClass: Type<Throttle>, where = 'ThrottlingService'): Promise<Throttle> {
    assertThrottleClass(throttleClass, where);
    return this.instantiate(throttleClass, this.moduleRef, where).then((created) => prepareThrottle(created, where));
  }

  private async instantiate(throttleClass: Type<Throttle>, hostRef: ModuleRef, where: string): Promise<Throttle> {
    const perRequest = requestScopedDependency(throttleClass, hostRef);
    if (perRequest !== undefined) {
      const what = perRequest.itself ? 'is request-scoped' : `depends on ${perRequest.dependency}, which is request-scoped`;
      throw new ThrottleConfigError(
        `${where}: throttle ${throttleClass.name} ${what}, but a throttle is one instance for every request. ` +
          'Read the request from the ThrottleContext it is given (ctx.request, ctx.user) instead.',
      );
    }
    try {
      return this.moduleRef.get(throttleClass, { strict: false });
    } catch {
      // Not listed as a provider anywhere: create it where it is used.
    }
    try {
      return await hostRef.create(throttleClass);
    } catch (error) {
      const module = this.hostNames.get(hostRef) ?? (hostRef === this.moduleRef ? 'ThrottlingModule' : 'the module of the route');
      const missing = missingDependency(error, throttleClass, module);
      if (missing !== undefined) throw new ThrottleConfigError(`${where}: cannot create throttle ${throttleClass.name}: ${missing}`);
      throw new ThrottleConfigError(
        `${where}: cannot create throttle ${throttleClass.name} through DI: ${(error as Error).message.replace(/\.+$/, '')}. ` +
          `List it in the providers of a module that can see its dependencies.`,
      );
    }
  }

  private async buildPlan(type: Function, handler: Function, hostRef: ModuleRef, where: string, usedScopes: Set<string>): Promise<RoutePlan> {
    const classes: unknown = Reflect.getMetadata(THROTTLE_CLASSES_METADATA, handler) ?? Reflect.getMetadata(THROTTLE_CLASSES_METADATA, type) ?? this.settings.defaultThrottles;
    const scope = routeScope(type, handler);
    const cost = routeCost(type, handler, where);
    if (!Array.isArray(classes)) throw new ThrottleConfigError(`${where}: @ThrottleClasses() holds ${describeValue(classes)}, not a list of throttle classes`);
    if (classes.length === 0) return scope === undefined && cost === undefined ? UNTHROTTLED : { ...UNTHROTTLED, scope, cost };

    const throttles: Throttle[] = [];
    for (const [index, throttleClass] of classes.entries()) {
      assertThrottleClass(throttleClass, `${where}: throttle #${index + 1}`);
      const throttle = await this.resolve(throttleClass, hostRef, where);
      this.validate(throttle, scope, cost, where, usedScopes);
      throttles.push(throttle);
    }
    const names = throttles.map(throttleName);
    return {
      throttles,
      scope,
      cost,
      accessedThrottles: throttles.filter(throttleRecordsAfterHandler),
      headerCache: new RateLimitHeaderCache(),
      shadow: shadowFlags(throttles, routeShadow(type, handler), this.settings.mode, where, names),
      route: where,
      names,
    };
  }

  /** Rate throttles must find a well-formed rate for the scope they will use on this route, and be able to admit its cost. */
  private validate(throttle: Throttle, routeScope: string | undefined, cost: number | undefined, where: string, usedScopes: Set<string>): void {
    if (!(throttle instanceof SimpleRateThrottle)) return;
    const scope = throttle.scopeOnRoute(routeScope);
    // A throttle with a rate of its own never reads the scope's: a malformed one then still fails the
    // boot, with the module's message (see onModuleInit), instead of being skipped.
    if (scope !== undefined && throttle.rate === undefined) {
      usedScopes.add(scope);
      const badRate = this.settings.badRates.get(scope);
      // BandwidthThrottle reads the scope's rate as a byte rate, and checks it in its validate().
      if (badRate !== undefined && !(throttle instanceof BandwidthThrottle)) throw new ThrottleConfigError(`${where}: ${throttle.constructor.name}, scope '${scope}': ${badRate.message}`);
    }
    try {
      throttle.validate(routeScope, where, cost);
    } catch (error) {
      if (error instanceof ThrottleConfigError && !error.message.startsWith(where)) {
        throw new ThrottleConfigError(`${where}: ${throttle.constructor.name}${scope ? `, scope '${scope}'` : ''}: ${error.message}`);
      }
      throw error;
    }
  }

  /** The known counts of a plan's throttles, each with the throttle's name. */
  private countsOf(plan: RoutePlan): [KnownCount, string][] {
    const counts: [KnownCount, string][] = [];
    for (const throttle of plan.throttles) {
      const count = knownCount(throttle, plan.scope, this.options?.rates);
      if (count !== undefined) counts.push([count, throttleName(throttle)]);
    }
    return counts;
  }

  private store(type: Function, handler: Function, plan: RoutePlan): void {
    let byHandler = this.plans.get(type);
    if (byHandler === undefined) this.plans.set(type, (byHandler = new Map()));
    byHandler.set(handler, plan);
  }
}

/**
 * The @ThrottleScope of a route: the handler's when it has one, even null (which clears the
 * controller's, DRF's `throttle_scope = None`), else the controller's (null there clears a base class's).
 */
function routeScope(type: Function, handler: Function): string | undefined {
  const scope: string | null | undefined = Reflect.hasMetadata(THROTTLE_SCOPE_METADATA, handler)
    ? Reflect.getMetadata(THROTTLE_SCOPE_METADATA, handler)
    : Reflect.getMetadata(THROTTLE_SCOPE_METADATA, type);
  return scope ?? undefined;
}

/**
 * What Nest could not inject, from its UnknownDependenciesException (not exported from @nestjs/core's
 * entry point, so known by its class name; `type`, `context.{ index, name, key }` in Nest 11 and 12):
 * the dependency to provide and the module that must see it. Undefined for any other failure.
 */
function missingDependency(error: unknown, throttleClass: Function, module: string): string | undefined {
  if ((error as object | null)?.constructor?.name !== 'UnknownDependenciesException') return undefined;
  const { type, context } = error as { type?: unknown; context?: { index?: number; name?: unknown; key?: unknown } };
  if (context === undefined) return undefined;
  const owner = type === throttleClass.name || type === undefined ? throttleClass.name : `its dependency ${String(type)}`;
  const position = context.index === undefined ? `property ${String(context.key)}` : `constructor argument #${context.index + 1}`;
  const { name } = context;
  if (name === undefined || name === Object) {
    return (
      `${owner}'s ${position} has no injection token Nest can see (a type imported with \`import type\`, or no decorator metadata): ` +
      'name it with @Inject(SomeService)'
    );
  }
  const dependency = typeof name === 'function' ? name.name : typeof name === 'symbol' ? name.toString() : `"${String(name)}"`;
  return (
    `${owner} needs ${dependency} (${position}), which ${module} cannot see, and the throttle is created there because no module lists it as a provider: ` +
    `provide it in ${module}, or import the module that exports it there (or list ${throttleClass.name} in the providers of a module that sees ${dependency})`
  );
}

function throttleName(throttle: Throttle): string {
  return (throttle instanceof TastypieThrottleAdapter ? throttle.inner : throttle).constructor.name;
}

function targetOf(wrapper: InstanceWrapper): { type: Function; prototype: any } | undefined {
  const { metatype, instance } = wrapper;
  if (typeof metatype !== 'function' || instance === null || typeof instance !== 'object') return undefined;
  if (wrapper.isNotMetatype) return undefined;
  return { type: metatype, prototype: Object.getPrototypeOf(instance) };
}

function hasThrottleMetadata(type: Function, prototype: any, methods: string[]): boolean {
  const has = (target: object) => Reflect.hasMetadata(THROTTLE_CLASSES_METADATA, target) || Reflect.hasMetadata(THROTTLE_SCOPE_METADATA, target) || Reflect.hasMetadata(THROTTLE_COST_METADATA, target);
  return has(type) || methods.some((method) => has(prototype[method]));
}

/** The ModuleRef of the module that declares a controller or provider. */
function hostModuleRef(wrapper: InstanceWrapper): ModuleRef | undefined {
  const host = (wrapper as { host?: { providers?: Map<unknown, InstanceWrapper> } }).host;
  return host?.providers?.get(ModuleRef)?.instance as ModuleRef | undefined;
}
