import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { concatMap, concatWith, defer, EMPTY, from, map, type Observable, of } from 'rxjs';
import type { Awaitable } from '../core/store.js';
import { isPromise } from '../throttles/evaluate-throttles.js';
import { type PendingAccess, takeAccess } from './pending-accesses.js';
import type { ThrottlingSettings } from './throttling-settings.js';
import { THROTTLING_SETTINGS } from './tokens.js';

/**
 * Calls `accessed()` on the request's throttles once its handler has succeeded (Tastypie's
 * log_throttled_access), on every transport the guard throttles. A handler that throws (4xx, 5xx),
 * a request refused by a guard (401) or one that matched no route (404/405) is never counted.
 *
 * Bound only where needed: by @ThrottleClasses() on routes whose throttles record accesses, and
 * globally only when `defaultThrottles` include one, so other routes pay nothing for it.
 */
@Injectable()
export class ThrottleAccessInterceptor implements NestInterceptor {
  constructor(@Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const transport = this.settings.transports.get(context.getType());
    if (transport === undefined) return next.handle();
    const token = transport.requestToken(context);
    let settled = false;
    // Runs on the handler's first value, or on completion when it produced none; awaited, so a
    // strict access log can still fail the request.
    const recordOnce = (): Awaitable<void> => {
      if (settled) return undefined;
      settled = true;
      const access = takeAccess(token);
      return access === undefined ? undefined : recordAccess(access);
    };
    return next.handle().pipe(
      concatMap((value) => {
        const recorded = recordOnce();
        return isPromise(recorded) ? from(recorded).pipe(map(() => value)) : of(value);
      }),
      concatWith(
        defer(() => {
          const recorded = recordOnce();
          return isPromise(recorded) ? from(recorded).pipe(concatMap(() => EMPTY)) : EMPTY;
        }),
      ),
    );
  }
}

/** Every throttle's accessed(), started together; settles when all have. */
function recordAccess({ ctx, throttles }: PendingAccess): Awaitable<void> {
  let waits: Promise<void>[] | undefined;
  for (const throttle of throttles) {
    const done = throttle.accessed?.(ctx);
    if (isPromise(done)) (waits ??= []).push(done);
  }
  return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
}
