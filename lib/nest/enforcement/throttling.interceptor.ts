import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { from, type Observable, switchMap } from 'rxjs';
import { isPromise } from '../../throttles/evaluate-throttles.js';
import { ThrottleEnforcer } from './throttle-enforcer.js';

/**
 * Enforces throttles after every guard has run (`enforceAt: 'interceptor'`), so an AuthGuard bound
 * on a controller has already set `req.user` and per-user throttles see the user.
 */
@Injectable()
export class ThrottlingInterceptor implements NestInterceptor {
  constructor(private readonly enforcer: ThrottleEnforcer) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const verdict = this.enforcer.enforce(context);
    if (isPromise(verdict)) return from(verdict).pipe(switchMap(() => next.handle()));
    return next.handle();
  }
}
