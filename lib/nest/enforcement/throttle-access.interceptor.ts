import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { catchError, concatMap, concatWith, defer, EMPTY, finalize, from, map, type Observable, of, throwError } from 'rxjs';
import type { Awaitable } from '../../core/store.js';
import { isPromise } from '../../throttles/evaluate-throttles.js';
import { markIntercepted, settleAccess, takeAccess } from './pending-accesses.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { THROTTLING_SETTINGS } from '../module/tokens.js';

/**
 * Settles the request's throttles with its handler's outcome (Tastypie's log_throttled_access), on
 * every transport the guard throttles: once the handler has succeeded, commit (accessed(), or the
 * slot the check reserved becomes the access); when it throws (4xx, 5xx) or the stream is dropped,
 * release (the slot is freed: a failed request is not counted). A request refused by a guard (401)
 * or one that matched no route (404/405) is never counted either.
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
    markIntercepted(token);
    let settled = false;
    // Taken when the outcome is known, not now: with enforceAt 'interceptor' the throttles may run
    // after this interceptor was entered. Awaited on success, so a strict access log can still fail
    // the request.
    const settleOnce = (commit: boolean): Awaitable<void> => {
      if (settled) return undefined;
      settled = true;
      const access = takeAccess(token);
      return access === undefined ? undefined : settleAccess(access, commit);
    };
    return next.handle().pipe(
      concatMap((value) => {
        const recorded = settleOnce(true);
        return isPromise(recorded) ? from(recorded).pipe(map(() => value)) : of(value);
      }),
      concatWith(
        defer(() => {
          const recorded = settleOnce(true);
          return isPromise(recorded) ? from(recorded).pipe(concatMap(() => EMPTY)) : EMPTY;
        }),
      ),
      catchError((error: unknown) => {
        const released = releaseQuietly(() => settleOnce(false));
        return released === undefined ? throwError(() => error) : from(released).pipe(concatMap(() => throwError(() => error)));
      }),
      // Unsubscribed before any outcome (e.g. a timeout further out): not served, so released.
      finalize(() => void releaseQuietly(() => settleOnce(false))),
    );
  }
}

/** A release never fails the request: a slot whose release fails expires on its own. */
function releaseQuietly(release: () => Awaitable<void>): Promise<void> | undefined {
  try {
    const released = release();
    return isPromise(released) ? released.catch(() => undefined) : undefined;
  } catch {
    return undefined;
  }
}
