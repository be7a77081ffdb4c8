import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { EnforcementPoint } from '../throttling-options.interface.js';
import { ThrottlingGuard } from '../throttling.guard.js';
import { ThrottlingInterceptor } from '../throttling.interceptor.js';
import type { ThrottlingSettings } from '../throttling-settings.js';
import { THROTTLE_CLASSES_METADATA, THROTTLING_SETTINGS } from '../tokens.js';
import { installedMajor } from './installed-major.js';

// Nest's metadata keys (@nestjs/common and @nestjs/websockets constants), spelled out so that this
// check needs neither package's internal paths.
const GUARDS_METADATA = '__guards__';
const INTERCEPTORS_METADATA = '__interceptors__';
const GATEWAY_METADATA = 'websockets:is_gateway';
const MESSAGE_MAPPING_METADATA = 'websockets:message_mapping';

/** What a gateway must bind itself on Nest 11, for each enforcement point. */
const BINDINGS: Record<EnforcementPoint, { metadata: string; enhancer: Function; decorator: string }> = {
  guard: { metadata: GUARDS_METADATA, enhancer: ThrottlingGuard, decorator: '@UseGuards(ThrottlingGuard)' },
  interceptor: { metadata: INTERCEPTORS_METADATA, enhancer: ThrottlingInterceptor, decorator: '@UseInterceptors(ThrottlingInterceptor)' },
};

/**
 * Nest 11's @nestjs/websockets builds a gateway's guards and interceptors without the application
 * config, so global ones (APP_GUARD, APP_INTERCEPTOR: this module's) never run for WebSocket
 * messages there; Nest 12 runs them. Nothing fails, messages are simply not throttled: this check
 * names, at boot, each gateway on Nest 11 that does not bind the module's enforcer itself.
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
    const { decorator } = BINDINGS[this.settings.enforceAt];
    for (const gateway of unthrottledGateways(gateways, installedMajor('@nestjs/websockets'), this.settings.enforceAt)) {
      this.logger.warn(
        `${gateway.name} is not throttled: Nest 11 does not run global guards or interceptors for WebSocket gateways. ` +
          `Add ${decorator} to the gateway class (Nest 12 needs nothing).`,
      );
    }
  }
}

/**
 * The gateways whose messages this module's global enforcer will not reach: none from
 * @nestjs/websockets 12 on, or when its version is unknown; on 11 and before, those that do not
 * bind the enforcer (ThrottlingGuard, or ThrottlingInterceptor under enforceAt: 'interceptor').
 */
export function unthrottledGateways(gateways: readonly Function[], websocketsMajor: number | undefined, enforceAt: EnforcementPoint): Function[] {
  if (websocketsMajor === undefined || websocketsMajor >= 12) return [];
  return gateways.filter((gateway) => !isEnforced(gateway, BINDINGS[enforceAt]));
}

/** Bound on the class, on every message handler, or throttling switched off on the class with @ThrottleClasses(). */
function isEnforced(gateway: Function, binding: (typeof BINDINGS)[EnforcementPoint]): boolean {
  if (binds(gateway, binding)) return true;
  const classThrottles: unknown[] | undefined = Reflect.getMetadata(THROTTLE_CLASSES_METADATA, gateway);
  if (classThrottles !== undefined && classThrottles.length === 0) return true;
  const handlers = Object.getOwnPropertyNames(gateway.prototype)
    .map((name) => Object.getOwnPropertyDescriptor(gateway.prototype, name)?.value)
    .filter((method): method is Function => typeof method === 'function' && Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method) === true);
  return handlers.length > 0 && handlers.every((handler) => binds(handler, binding));
}

/** Whether the target's guards (or interceptors) include the enforcer class, a subclass of it, or an instance. */
function binds(target: Function, { metadata, enhancer }: (typeof BINDINGS)[EnforcementPoint]): boolean {
  const bound: unknown[] = Reflect.getMetadata(metadata, target) ?? [];
  return bound.some(
    (item) => item === enhancer || (typeof item === 'function' && item.prototype instanceof enhancer) || item instanceof enhancer,
  );
}
