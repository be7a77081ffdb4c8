import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { classRecordsAfterHandler } from '../../throttles/records-after-handler.js';
import { ThrottleAccessInterceptor } from '../enforcement/throttle-access.interceptor.js';
import type { EnforcementPoint } from '../module/throttling-options.interface.js';
import { ThrottlingGuard } from '../enforcement/throttling.guard.js';
import { ThrottlingInterceptor } from '../enforcement/throttling.interceptor.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { THROTTLE_CLASSES_METADATA, THROTTLING_SETTINGS } from '../module/tokens.js';
import { installedMajor } from './installed-major.js';

// Nest's metadata keys (@nestjs/common and @nestjs/websockets constants), spelled out so that this
// check needs neither package's internal paths.
const GUARDS_METADATA = '__guards__';
const INTERCEPTORS_METADATA = '__interceptors__';
const GATEWAY_METADATA = 'websockets:is_gateway';
const MESSAGE_MAPPING_METADATA = 'websockets:message_mapping';

/** An enhancer this module registers globally, which a Nest 11 gateway must bind itself. */
interface Binding {
  readonly metadata: string;
  readonly enhancer: Function;
  readonly decorator: string;
}

const GUARD: Binding = { metadata: GUARDS_METADATA, enhancer: ThrottlingGuard, decorator: '@UseGuards(ThrottlingGuard)' };
const INTERCEPTOR: Binding = { metadata: INTERCEPTORS_METADATA, enhancer: ThrottlingInterceptor, decorator: '@UseInterceptors(ThrottlingInterceptor)' };
const ACCESS_INTERCEPTOR: Binding = { metadata: INTERCEPTORS_METADATA, enhancer: ThrottleAccessInterceptor, decorator: '@UseInterceptors(ThrottleAccessInterceptor)' };

/** What the module registers globally, hence what a gateway needs on Nest 11. */
export interface GlobalEnforcement {
  readonly enforceAt: EnforcementPoint;
  /** Whether defaultThrottles record accesses after the handler (the global access interceptor). */
  readonly defaultsRecordAccesses: boolean;
}

/** A gateway the module's global enhancers will not reach, and the decorators it lacks. */
export interface UnthrottledGateway {
  readonly gateway: Function;
  readonly missing: readonly string[];
}

/**
 * Nest 11's @nestjs/websockets builds a gateway's guards and interceptors without the application
 * config, so global ones (APP_GUARD, APP_INTERCEPTOR: this module's) never run for WebSocket
 * messages there; Nest 12 runs them. Nothing fails, messages are simply not throttled (or, for
 * Tastypie throttles, never recorded): this check names, at boot, each gateway on Nest 11 that
 * does not bind what it needs itself.
 */
@Injectable()
export class GatewayEnforcementCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('ThrottlingModule');

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
  ) {}

  onApplicationBootstrap(): void {
    const gateways = this.discovery.getProviders().flatMap((wrapper) => {
      const type = wrapper.metatype;
      return typeof type === 'function' && Reflect.getMetadata(GATEWAY_METADATA, type) === true ? [type] : [];
    });
    if (gateways.length === 0) return;
    const enforcement = { enforceAt: this.settings.enforceAt, defaultsRecordAccesses: this.settings.defaultThrottles.some(classRecordsAfterHandler) };
    for (const { gateway, missing } of unthrottledGateways(gateways, installedMajor('@nestjs/websockets'), enforcement)) {
      this.logger.warn(
        `${gateway.name} is not throttled: Nest 11 does not run global guards or interceptors for WebSocket gateways. ` +
          `Add ${missing.join(' and ')} to the gateway class (Nest 12 needs nothing).`,
      );
    }
  }
}

/**
 * The gateways whose messages the module's global enhancers will not reach: none from
 * @nestjs/websockets 12 on, or when its version is unknown; on 11 and before, those with a message
 * handler that is throttled but lacks a binding, on the class or on the handler.
 */
export function unthrottledGateways(gateways: readonly Function[], websocketsMajor: number | undefined, enforcement: GlobalEnforcement): UnthrottledGateway[] {
  if (websocketsMajor === undefined || websocketsMajor >= 12) return [];
  const found: UnthrottledGateway[] = [];
  for (const gateway of gateways) {
    const missing = new Set<string>();
    for (const handler of messageHandlers(gateway)) {
      for (const binding of missingBindings(gateway, handler, enforcement)) missing.add(binding.decorator);
    }
    if (missing.size > 0) found.push({ gateway, missing: [...missing] });
  }
  return found;
}

function missingBindings(gateway: Function, handler: Function, { enforceAt, defaultsRecordAccesses }: GlobalEnforcement): Binding[] {
  // The handler's list beats the class's, which beats defaultThrottles.
  const own: unknown[] | undefined = Reflect.getMetadata(THROTTLE_CLASSES_METADATA, handler) ?? Reflect.getMetadata(THROTTLE_CLASSES_METADATA, gateway);
  if (own !== undefined && own.length === 0) return []; // throttling is off here
  const needed = [enforceAt === 'guard' ? GUARD : INTERCEPTOR];
  // @ThrottleClasses() binds the access interceptor itself; only defaultThrottles rely on the global one.
  if (own === undefined && defaultsRecordAccesses) needed.push(ACCESS_INTERCEPTOR);
  return needed.filter((binding) => !binds(gateway, binding) && !binds(handler, binding));
}

/** The message handlers of a gateway class, inherited ones included. */
function messageHandlers(gateway: Function): Function[] {
  const handlers: Function[] = [];
  const seen = new Set<string>();
  for (let prototype = gateway.prototype; prototype !== null && prototype !== Object.prototype; prototype = Object.getPrototypeOf(prototype)) {
    for (const name of Object.getOwnPropertyNames(prototype)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const method = Object.getOwnPropertyDescriptor(prototype, name)?.value;
      if (typeof method === 'function' && Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method) === true) handlers.push(method);
    }
  }
  return handlers;
}

/** Whether the target's guards (or interceptors) include the enhancer class, a subclass of it, or an instance. */
function binds(target: Function, { metadata, enhancer }: Binding): boolean {
  const bound: unknown[] = Reflect.getMetadata(metadata, target) ?? [];
  return bound.some((item) => item === enhancer || (typeof item === 'function' && item.prototype instanceof enhancer) || item instanceof enhancer);
}
