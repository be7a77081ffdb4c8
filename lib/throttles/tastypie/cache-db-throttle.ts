import { Inject, Injectable, Optional } from '@nestjs/common';
import type { AccessLog } from '../../access-log/access-log.js';
import type { Awaitable } from '../../core/store.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import { isPromise } from '../evaluate-throttles.js';
import type { ThrottleContext } from '../throttle.js';
import { ACCESS_LOG } from './access-log-token.js';
import { whereToAdd } from '../throttling-runtime.js';
import { CacheThrottle } from './cache-throttle.js';

/**
 * Tastypie's CacheDBThrottle: throttles like CacheThrottle, and writes every access through to the
 * access log (the module's `accessLog` option: PostgreSQL) with the identifier, the full URL, the
 * lower-case method and the time, e.g. for usage statistics or billing.
 */
@Injectable()
export class CacheDBThrottle extends CacheThrottle {
  @Optional()
  @Inject(ACCESS_LOG)
  protected readonly accessLog: AccessLog | null = null;

  /** Counts the access (see CacheThrottle.commit), then writes its row: accessed() and a committed reservation alike. */
  override commit(identifier: string, reservation: string | null, ctx?: ThrottleContext): Awaitable<void> {
    if (this.accessLog == null) throw new ThrottleConfigError(this.missingLog());
    const counted = super.commit(identifier, reservation, ctx);
    const entry = {
      identifier,
      url: ctx?.url ?? '',
      method: (ctx?.method ?? '').toLowerCase(),
      accessedAt: this.runtime.clock(),
    };
    if (isPromise(counted)) return counted.then(() => this.accessLog!.write(entry));
    return this.accessLog.write(entry);
  }

  override assertReady(where: string): void {
    super.assertReady(where);
    if (this.accessLog == null) throw new ThrottleConfigError(`${where}: ${this.missingLog()}`);
  }

  private missingLog(): string {
    const add = whereToAdd(this.runtime?.entryPoint, 'accessLog: { connectionString: process.env.DATABASE_URL }');
    return `${this.constructor.name} writes every access to an access log, but none is configured: add ${add}`;
  }
}
