import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ThrottleEnforcer } from './throttle-enforcer.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { THROTTLING_SETTINGS } from '../module/tokens.js';

/**
 * The global guard registered by ThrottlingModule (APP_GUARD). Binding it again with @UseGuards()
 * is harmless: a request is throttled once.
 */
@Injectable()
export class ThrottlingGuard implements CanActivate {
  constructor(
    private readonly enforcer: ThrottleEnforcer,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.settings.enforceAt !== 'guard') return true;
    return this.enforcer.enforce(context);
  }
}
