import { Inject, Injectable, Logger, type OnApplicationShutdown, type Provider, type Type } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { type AccessLog, AccessLogError } from '../../access-log/access-log.js';
import { PostgresAccessLog, type PostgresAccessLogOptions } from '../../access-log/postgres-access-log.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { ACCESS_LOG } from '../../throttles/tastypie/access-log-token.js';
import { classRecordsAfterHandler } from '../../throttles/records-after-handler.js';
import { ThrottleAccessInterceptor } from '../enforcement/throttle-access.interceptor.js';
import type { ThrottlingModuleOptions } from './throttling-options.interface.js';
import type { ThrottlingSettings } from './throttling-settings.js';
import { ThrottlingService } from '../enforcement/throttling.service.js';
import { THROTTLING_OPTIONS, THROTTLING_SETTINGS } from './tokens.js';
import { describeValue } from '../../core/describe-value.js';
import { type EntryPoint, moduleLabel } from '../../throttles/throttling-runtime.js';

/** The access log and whether the module created it (and so closes it), or only flushes it. */
interface AccessLogHandle {
  readonly log: AccessLog | null;
  readonly owned: boolean;
}

const ACCESS_LOG_HANDLE = Symbol('nestjs-throttling:access-log-handle');
const ACCESS_RECORDING_CHECK = Symbol('nestjs-throttling:access-recording-check');

/** The `accessLog` option: PostgresAccessLog options (the module creates and closes it) or your own AccessLog. */
export function createAccessLog(option: ThrottlingModuleOptions['accessLog'], label = 'ThrottlingModule'): AccessLogHandle {
  if (option === undefined) return { log: null, owned: false };
  if (option === null || typeof option !== 'object') {
    throw new ThrottleConfigError(`${label}: accessLog must be PostgresAccessLog options or an AccessLog instance, got ${describeValue(option)}`);
  }
  if (typeof (option as AccessLog).write === 'function') {
    for (const method of ['flush', 'close'] as const) {
      if (typeof (option as unknown as Record<string, unknown>)[method] !== 'function') {
        throw new ThrottleConfigError(`${label}: accessLog must implement AccessLog (missing ${method}()), got ${describeValue(option)}`);
      }
    }
    return { log: option as AccessLog, owned: false };
  }
  const logger = new Logger('AccessLog');
  try {
    const log = new PostgresAccessLog({ logger: { error: (m) => logger.error(m), warn: (m) => logger.warn(m), log: (m) => logger.log(m) }, ...(option as PostgresAccessLogOptions) });
    return { log, owned: true };
  } catch (error) {
    if (error instanceof AccessLogError) throw new ThrottleConfigError(`${label}: accessLog: ${error.message}`);
    throw error;
  }
}

/** Writes the buffered access rows at application shutdown (enableShutdownHooks, or app.close()). */
@Injectable()
export class AccessLogShutdown implements OnApplicationShutdown {
  constructor(@Inject(ACCESS_LOG_HANDLE) private readonly handle: AccessLogHandle) {}

  async onApplicationShutdown(): Promise<void> {
    const { log, owned } = this.handle;
    if (log === null) return;
    if (owned) return log.close();
    try {
      await log.flush();
    } catch (error) {
      new Logger('AccessLog').error(`could not flush the access log at shutdown: ${(error as Error).message}`);
    }
  }
}

/** Does any of these classes record accesses after the handler (CacheThrottle, CacheDBThrottle, custom)? */
export function anyRecordsAccesses(classes: readonly unknown[] | undefined): boolean {
  return Array.isArray(classes) && classes.some(classRecordsAfterHandler);
}

/**
 * The Tastypie side of the module: the access log, its shutdown flush, ThrottlingService, and the
 * access interceptor, made global only when the default throttles record accesses (otherwise
 * @ThrottleClasses binds it on the routes that need it).
 */
export function accessRecordingProviders(globally: boolean, entryPoint: EntryPoint): Provider[] {
  const label = moduleLabel(entryPoint);
  const providers: Provider[] = [
    { provide: ACCESS_LOG_HANDLE, inject: [THROTTLING_OPTIONS], useFactory: (options: ThrottlingModuleOptions) => createAccessLog(options?.accessLog, label) },
    { provide: ACCESS_LOG, inject: [ACCESS_LOG_HANDLE], useFactory: (handle: AccessLogHandle) => handle.log },
    AccessLogShutdown,
    ThrottleAccessInterceptor,
    ThrottlingService,
    {
      provide: ACCESS_RECORDING_CHECK,
      inject: [THROTTLING_SETTINGS],
      useFactory: (settings: ThrottlingSettings) => {
        const recording = settings.defaultThrottles.filter(classRecordsAfterHandler) as Type[];
        if (recording.length > 0 && !globally) {
          throw new ThrottleConfigError(
            `${label}: defaultThrottles include ${recording.map((c) => c.name).join(', ')}, which record accesses after the handler; ` +
              `pass recordAccesses: true to ThrottlingModule.${entryPoint}() so the module registers the interceptor that records them`,
          );
        }
        return true;
      },
    },
  ];
  // The interceptor costs every request an Observable pipeline, so it is global only when needed.
  if (globally) providers.push({ provide: APP_INTERCEPTOR, useExisting: ThrottleAccessInterceptor });
  return providers;
}

export { ACCESS_LOG };
