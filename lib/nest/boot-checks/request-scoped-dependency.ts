import { Scope } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';

// Nest's metadata keys (@nestjs/common constants), the same in Nest 11 and 12.
const SCOPE_OPTIONS_METADATA = 'scope:options';
const PARAMTYPES_METADATA = 'design:paramtypes';
const SELF_DECLARED_DEPS_METADATA = 'self:paramtypes';
const PROPERTY_DEPS_METADATA = 'self:properties_metadata';

/**
 * What makes a throttle class resolve per request: the class itself when it is declared
 * request-scoped, or the first constructor parameter or injected property whose provider is (Nest
 * makes anything that depends on a request-scoped provider request-scoped too). Undefined when
 * nothing does. A throttle is one instance for every request, so either case is a configuration
 * error: created once, it would keep the dependency of no request in particular.
 */
export function requestScopedDependency(throttleClass: Function, moduleRef: ModuleRef): { readonly itself: true } | { readonly itself: false; readonly dependency: string } | undefined {
  if (Reflect.getMetadata(SCOPE_OPTIONS_METADATA, throttleClass)?.scope === Scope.REQUEST) return { itself: true };
  for (const token of [...constructorTokens(throttleClass), ...propertyTokens(throttleClass)]) {
    if (isRequestScoped(token, moduleRef)) return { itself: false, dependency: tokenName(token) };
  }
  return undefined;
}

/** Constructor parameter tokens: the declared types, replaced where @Inject() names a token. */
function constructorTokens(type: Function): unknown[] {
  const tokens: unknown[] = [...(Reflect.getMetadata(PARAMTYPES_METADATA, type) ?? [])];
  for (const { index, param } of Reflect.getMetadata(SELF_DECLARED_DEPS_METADATA, type) ?? []) tokens[index] = param;
  return tokens;
}

function propertyTokens(type: Function): unknown[] {
  return (Reflect.getMetadata(PROPERTY_DEPS_METADATA, type) ?? []).map((property: { type: unknown }) => property.type);
}

function isRequestScoped(token: unknown, moduleRef: ModuleRef): boolean {
  if (token === undefined || token === null || token === Object) return false;
  try {
    return moduleRef.introspect(token as never).scope === Scope.REQUEST;
  } catch {
    // Not a provider Nest knows here (or a forwardRef): instantiation reports it, if it matters.
    return false;
  }
}

function tokenName(token: unknown): string {
  if (typeof token === 'function') return token.name;
  return typeof token === 'symbol' ? token.toString() : String(token);
}
