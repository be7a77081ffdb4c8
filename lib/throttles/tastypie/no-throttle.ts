import { Injectable, type Type } from '@nestjs/common';
import { boundedKeyPart } from '../../core/bounded-key-part.js';
import type { Awaitable } from '../../core/store.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import type { ThrottleContext, ThrottleDecision } from '../throttle.js';
import { describeValue } from '../../core/describe-value.js';
import { type ThrottleMode, validateThrottleMode } from '../../core/throttle-mode.js';

/** What `.with()` may override on a Tastypie throttle. */
export interface TastypieThrottleOptions {
  /** The number of accesses in `timeframe` at which the client is throttled. Default 150. */
  readonly throttleAt?: number;
  /** The window, in seconds. Default 3600 (one hour). */
  readonly timeframe?: number;
  /** How long access times are kept, in seconds (never less than `timeframe`). Default 604800 (a week). */
  readonly expiration?: number;
  /** Separates buckets: throttles with different scopes count the same identifier apart. Default: shared. */
  readonly scope?: string;
  /**
   * How long a request that passed the check holds its slot while its outcome is unknown, in seconds;
   * an unsettled slot (a crashed handler) frees itself then. Default min(timeframe, 300).
   */
  readonly reservationTimeout?: number;
  /** 'shadow': counted and reported, never denied (see the module's `mode`). */
  readonly mode?: ThrottleMode;
}

/** 300 s is Node's default http requestTimeout: no request legitimately holds a slot longer by default. */
const MAX_DEFAULT_RESERVATION_SECONDS = 300;

/**
 * Tastypie's throttle shape: any class with these two methods is a throttle provider (resolved
 * through DI), the way Tastypie's BaseThrottle subclasses are.
 */
export interface TastypieStyleThrottle {
  /** false to let the request through; the seconds to wait (or true when unknown) to throttle it. */
  shouldBeThrottled(identifier: string, ctx?: ThrottleContext): Awaitable<boolean | number>;
  /** Records an access; called after the handler succeeded. */
  accessed(identifier: string, ctx?: ThrottleContext): Awaitable<void>;
}

/**
 * Tastypie's BaseThrottle: the no-op, API-compatible plug (never throttles, records nothing), and
 * the base class of CacheThrottle, CacheDBThrottle and custom Tastypie-style throttles.
 */
@Injectable()
export class NoThrottle implements TastypieStyleThrottle {
  throttleAt = 150;
  timeframe = 3600;
  expiration = 604800;
  scope: string | undefined = undefined;
  /** Unset: min(timeframe, 300) (see TastypieThrottleOptions.reservationTimeout). */
  reservationTimeout: number | undefined = undefined;
  /** Unset: the module's `mode` (and `@ThrottleShadow()` beats both). */
  mode: ThrottleMode | undefined = undefined;

  /** How long a reservation holds its slot unless settled, in seconds. */
  get reservationSeconds(): number {
    return this.reservationTimeout ?? Math.min(this.timeframe, MAX_DEFAULT_RESERVATION_SECONDS);
  }

  /**
   * A configured variant without boilerplate: `CacheThrottle.with({ throttleAt: 100 })` is a new
   * class, resolved through DI like any other. Bad values fail here, when the module is loaded.
   */
  static with<T extends Type<NoThrottle>>(this: T, options: TastypieThrottleOptions): T {
    const Base = this as unknown as new (...args: any[]) => NoThrottle;
    const label = `${Base.name}.with(${describeValue(options)})`;
    validateTastypieOptions({ ...options }, label);
    const Variant = class extends Base {
      constructor(...args: any[]) {
        super(...args);
        if (options.throttleAt !== undefined) this.throttleAt = options.throttleAt;
        if (options.timeframe !== undefined) this.timeframe = options.timeframe;
        if (options.expiration !== undefined) this.expiration = options.expiration;
        if (options.scope !== undefined) this.scope = options.scope;
        if (options.reservationTimeout !== undefined) this.reservationTimeout = options.reservationTimeout;
        if (options.mode !== undefined) this.mode = options.mode;
      }
    };
    Object.defineProperty(Variant, 'name', { value: label });
    return Variant as unknown as T;
  }

  /**
   * Who is counted: the authenticated user's `username`, else the user's id (the module's `userId`
   * option), else the client address. Override to count by something else.
   */
  identifierFor(ctx: ThrottleContext): string {
    return tastypieIdentifier(ctx);
  }

  /** The store key of an identifier (Tastypie: `<identifier>_accesses`), with long identifiers hashed. */
  cacheKey(identifier: string): string {
    const scope = this.scope === undefined ? '' : `${this.scope}:`;
    return `tastypie:${scope}${boundedKeyPart(identifier)}_accesses`;
  }

  /** Never throttles. */
  shouldBeThrottled(_identifier: string, _ctx?: ThrottleContext): Awaitable<boolean | number> {
    return false;
  }

  /** Records nothing. */
  accessed(_identifier: string, _ctx?: ThrottleContext): Awaitable<void> {
    return undefined;
  }

  /**
   * The full decision, with what headers need. Built-in throttles override it; for a custom class
   * the adapter derives it from shouldBeThrottled().
   */
  check?(identifier: string, ctx?: ThrottleContext): Awaitable<ThrottleDecision>;

  /** Checked when the throttle is resolved at boot: throws a ThrottleConfigError naming the bad value. */
  assertReady(where: string): void {
    validateTastypieOptions(this as unknown as TastypieThrottleOptions & Record<string, unknown>, `${where}: ${this.constructor.name}`);
  }
}

/** Tastypie's identifier: the user's username, else the user's id, else the client address. */
export function tastypieIdentifier(ctx: ThrottleContext): string {
  const username = (ctx.user as { username?: unknown } | null | undefined)?.username;
  if (typeof username === 'string' && username.length > 0) return username;
  if (typeof username === 'number') return String(username);
  return ctx.userId ?? ctx.ident;
}

function validateTastypieOptions(options: TastypieThrottleOptions & Record<string, unknown>, where: string): void {
  const { throttleAt, timeframe, expiration, scope, reservationTimeout } = options;
  if (throttleAt !== undefined && (typeof throttleAt !== 'number' || !Number.isSafeInteger(throttleAt) || throttleAt < 0)) {
    throw new ThrottleConfigError(`${where}: throttleAt must be a non-negative integer, got ${describeValue(throttleAt)}`);
  }
  if (timeframe !== undefined && (typeof timeframe !== 'number' || !Number.isFinite(timeframe) || timeframe <= 0)) {
    throw new ThrottleConfigError(`${where}: timeframe must be a number of seconds > 0, got ${describeValue(timeframe)}`);
  }
  if (expiration !== undefined && (typeof expiration !== 'number' || !Number.isFinite(expiration) || expiration <= 0)) {
    throw new ThrottleConfigError(`${where}: expiration must be a number of seconds > 0, got ${describeValue(expiration)}`);
  }
  if (scope !== undefined && (typeof scope !== 'string' || scope.length === 0)) {
    throw new ThrottleConfigError(`${where}: scope must be a non-empty string, got ${describeValue(scope)}`);
  }
  if (reservationTimeout !== undefined && (typeof reservationTimeout !== 'number' || !Number.isFinite(reservationTimeout) || reservationTimeout <= 0)) {
    throw new ThrottleConfigError(`${where}: reservationTimeout must be a number of seconds > 0, got ${describeValue(reservationTimeout)}`);
  }
  validateThrottleMode(options.mode, where);
  // Tastypie's throttles count after the handler and wait out their own window; a block would need
  // a check that records, which they do not make. Refused rather than silently ignored.
  if (options.blockFor !== undefined) {
    throw new ThrottleConfigError(
      `${where}: blockFor is not supported on Tastypie throttles (got ${describeValue(options.blockFor)}): use a rate throttle for brute-force blocks, e.g. UserThrottle.with({ scope: 'login', rate: '5/min', blockFor: 900 })`,
    );
  }
  const known = new Set(['throttleAt', 'timeframe', 'expiration', 'scope', 'reservationTimeout', 'mode']);
  if (options.constructor === Object) {
    for (const key of Object.keys(options)) {
      if (!known.has(key)) throw new ThrottleConfigError(`${where}: unknown option '${key}'; known options are ${[...known].join(', ')}`);
    }
  }
}
