import { type CanActivate, type DynamicModule, type ExecutionContext, Injectable, Module, type Provider, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlingModule, type ThrottlingModuleOptions } from '../../lib/index.js';

/**
 * Authenticates from the `x-user-id` header: a stand-in for a real auth guard. It sets `user` on the
 * request object Nest hands to guards (the Express request, or the FastifyRequest).
 */
@Injectable()
export class UserFromHeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const id = request.headers['x-user-id'];
    if (typeof id === 'string' && id.length > 0) request.user = { id };
    return true;
  }
}

/** Registers UserFromHeaderGuard globally; imported before ThrottlingModule so it runs first, as DRF authenticates before throttling. */
@Module({ providers: [{ provide: APP_GUARD, useClass: UserFromHeaderGuard }] })
export class GlobalAuthModule {}

export interface TestModuleSpec {
  /** ThrottlingModule.forRoot options; ignored when `throttling` is given. */
  readonly options?: ThrottlingModuleOptions;
  /** A ready-made ThrottlingModule import (forRootAsync, ...). */
  readonly throttling?: DynamicModule;
  readonly controllers?: Type<unknown>[];
  readonly providers?: Provider[];
  readonly imports?: (Type<unknown> | DynamicModule)[];
  /** Whether a global guard authenticates from `x-user-id` (default true). */
  readonly auth?: boolean;
}

/** A fresh root module per test, so every app gets its own store and settings. */
export function testModule(spec: TestModuleSpec): Type<unknown> {
  class TestAppModule {}
  const auth = spec.auth ?? true;
  Module({
    imports: [...(auth ? [GlobalAuthModule] : []), spec.throttling ?? ThrottlingModule.forRoot(spec.options ?? {}), ...(spec.imports ?? [])],
    controllers: spec.controllers ?? [],
    providers: spec.providers ?? [],
  })(TestAppModule);
  return TestAppModule;
}
