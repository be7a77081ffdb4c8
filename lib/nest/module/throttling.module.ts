import { type DynamicModule, Inject, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, DiscoveryModule, ModuleRef, ModulesContainer } from '@nestjs/core';
import { describeValue } from '../../core/describe-value.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { ACCESS_LOG, accessRecordingProviders, anyRecordsAccesses } from './access-log.providers.js';
import { ThrottleAccessInterceptor } from '../enforcement/throttle-access.interceptor.js';
import { ThrottleEnforcer } from '../enforcement/throttle-enforcer.js';
import { ThrottleRegistry } from '../enforcement/throttle-registry.js';
import { ThrottledResponses } from '../openapi/throttled-responses.js';
import type { EnforcementPoint, ThrottlingModuleAsyncOptions, ThrottlingModuleOptions, ThrottlingOptionsFactory } from './throttling-options.interface.js';
import { createThrottlingSettings, type ThrottlingSettings } from './throttling-settings.js';
import { ThrottlingGuard } from '../enforcement/throttling.guard.js';
import { ThrottlingInterceptor } from '../enforcement/throttling.interceptor.js';
import { ThrottlingService } from '../enforcement/throttling.service.js';
import { THROTTLING_OPTIONS, THROTTLING_RUNTIME, THROTTLING_SETTINGS } from './tokens.js';
import { loadOptionalPeers } from '../transports/optional-peer.js';
import { GatewayEnforcementCheck } from '../boot-checks/gateway-enforcement-check.js';
import { IMPORT_SITE, settingsForImport } from '../boot-checks/module-imports.js';
import { StoreClockCheck } from '../boot-checks/store-clock-check.js';
import { ThrottlingEventBridge } from './throttling-event-bridge.js';
import { type EntryPoint, moduleLabel } from '../../throttles/throttling-runtime.js';

/**
 * Registers one global ThrottlingGuard (and, with `enforceAt: 'interceptor'`, one global
 * ThrottlingInterceptor instead of guard enforcement), the throttle registry and the store.
 */
const CLOSING = new WeakMap<ThrottlingSettings, Promise<void>>();

@Module({})
export class ThrottlingModule implements OnApplicationShutdown {
  constructor(@Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings) {}

  static forRoot(options: ThrottlingModuleOptions = {}): DynamicModule {
    if (options === null || typeof options !== 'object') {
      throw new ThrottleConfigError(`ThrottlingModule.forRoot(): options must be an object (or nothing, for the defaults), got ${describeValue(options)}`);
    }
    const recording = accessRecordingProviders(anyRecordsAccesses(options.defaultThrottles), 'forRoot');
    return ThrottlingModule.build('forRoot', [{ provide: THROTTLING_OPTIONS, useValue: options }, ...recording], [], options.enforceAt, undefined);
  }

  static forRootAsync(options: ThrottlingModuleAsyncOptions): DynamicModule {
    const ways = ['useFactory', 'useClass', 'useExisting'].filter((key) => (options as Record<string, unknown>)?.[key] !== undefined);
    if (ways.length !== 1) {
      throw new ThrottleConfigError(`ThrottlingModule.forRootAsync() needs exactly one of useFactory, useClass or useExisting, got ${ways.length === 0 ? 'none' : ways.join(' and ')}`);
    }
    if (options.recordAccesses !== undefined && typeof options.recordAccesses !== 'boolean') {
      throw new ThrottleConfigError(`ThrottlingModule.forRootAsync(): recordAccesses must be true or false, got ${describeValue(options.recordAccesses)}`);
    }
    const recording = accessRecordingProviders(options.recordAccesses === true, 'forRootAsync');
    return ThrottlingModule.build('forRootAsync', [...asyncOptionsProviders(options), ...recording], options.imports ?? [], options.enforceAt, options.enforceAt ?? 'guard', options.extraProviders);
  }

  private static build(entryPoint: EntryPoint, optionProviders: Provider[], imports: NonNullable<ThrottlingModuleAsyncOptions['imports']>, enforceAt: EnforcementPoint | undefined, staticEnforceAt: EnforcementPoint | undefined, extraProviders: Provider[] = []): DynamicModule {
    const providers: Provider[] = [
      ...optionProviders,
      ...extraProviders,
      // Tells this import apart from the app's others (see settingsForImport).
      { provide: IMPORT_SITE, useValue: {} },
      {
        provide: THROTTLING_SETTINGS,
        inject: [THROTTLING_OPTIONS, ModuleRef, ModulesContainer, IMPORT_SITE],
        useFactory: (options: ThrottlingModuleOptions, moduleRef: ModuleRef, modules: ModulesContainer, site: object) =>
          settingsForImport(modules, site, entryPoint, options, staticEnforceAt, async () => {
            // Before any request can reach the guard: the transports' errors come from these packages.
            await loadOptionalPeers();
            try {
              return await createThrottlingSettings(options, moduleRef, staticEnforceAt, entryPoint);
            } catch (error) {
              throw relabel(error, entryPoint);
            }
          }),
      },
      { provide: THROTTLING_RUNTIME, inject: [THROTTLING_SETTINGS], useFactory: (settings: ThrottlingSettings) => settings.runtime },
      ThrottleRegistry,
      ThrottledResponses,
      ThrottleEnforcer,
      ThrottlingGuard,
      ThrottlingInterceptor,
      GatewayEnforcementCheck,
      StoreClockCheck,
      ThrottlingEventBridge,
      // useExisting, not useClass: the global guard is the ThrottlingGuard provider itself, so a test's
      // overrideProvider(ThrottlingGuard) replaces it (with useClass, APP_GUARD holds an instance of its own).
      { provide: APP_GUARD, useExisting: ThrottlingGuard },
    ];
    // The interceptor costs every request an Observable pipeline, so it is registered only when used.
    if (enforceAt === 'interceptor') providers.push({ provide: APP_INTERCEPTOR, useExisting: ThrottlingInterceptor });
    return {
      module: ThrottlingModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers,
      exports: [THROTTLING_SETTINGS, THROTTLING_RUNTIME, ThrottleRegistry, ThrottleEnforcer, ThrottlingGuard, ThrottlingInterceptor, ThrottlingService, ThrottleAccessInterceptor, ACCESS_LOG],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    // The app's registry outlives the app: our observations (memory keys, access log) stop here.
    this.settings.metrics?.close();
    if (!this.settings.ownsStore) return;
    // Every import of the app shares the settings: the store is closed once.
    let closing = CLOSING.get(this.settings);
    if (closing === undefined) CLOSING.set(this.settings, (closing = Promise.resolve(this.settings.runtime.store.close?.())));
    await closing;
  }
}

/** The settings' messages start `ThrottlingModule: `; under forRootAsync they say so instead. */
function relabel(error: unknown, entryPoint: EntryPoint): unknown {
  const prefix = 'ThrottlingModule: ';
  if (entryPoint === 'forRoot' || !(error instanceof ThrottleConfigError) || !error.message.startsWith(prefix)) return error;
  return new ThrottleConfigError(`${moduleLabel(entryPoint)}: ${error.message.slice(prefix.length)}`);
}

function asyncOptionsProviders(options: ThrottlingModuleAsyncOptions): Provider[] {
  if (options.useFactory) return [{ provide: THROTTLING_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }];
  const factoryClass = (options.useClass ?? options.useExisting)!;
  const fromFactory = { provide: THROTTLING_OPTIONS, useFactory: (factory: ThrottlingOptionsFactory) => factory.createThrottlingOptions(), inject: [factoryClass] };
  return options.useClass ? [{ provide: factoryClass, useClass: factoryClass }, fromFactory] : [fromFactory];
}
