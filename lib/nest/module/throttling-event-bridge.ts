import { Inject, Injectable, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import { ModuleRef, ModulesContainer } from '@nestjs/core';
import type { AccessLog } from '../../access-log/access-log.js';
import type { AccessLogSource } from '../../metrics/throttling-metrics.js';
import { ACCESS_LOG } from '../../throttles/tastypie/access-log-token.js';
import type { EventEmitterLike } from '../enforcement/throttling-notifier.js';
import type { ThrottlingSettings } from './throttling-settings.js';
import { THROTTLING_SETTINGS } from './tokens.js';

/**
 * At bootstrap, once every module is up: hands the app's EventEmitter2 to the notifier when the
 * app registered @nestjs/event-emitter's EventEmitterModule (an optional peer, imported only
 * then: an app without it loads nothing), and lets the access log report to the metrics.
 */
@Injectable()
export class ThrottlingEventBridge implements OnApplicationBootstrap {
  private stopObservingLog: (() => void) | undefined;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly modules: ModulesContainer,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
    @Optional() @Inject(ACCESS_LOG) private readonly accessLog?: AccessLog | null,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { metrics } = this.settings;
    const log = this.accessLog as (AccessLog & Partial<AccessLogSource>) | null | undefined;
    if (metrics !== null && this.stopObservingLog === undefined && typeof log?.stats === 'function') this.stopObservingLog = metrics.observeAccessLog(log as AccessLogSource);
    const emitter = await this.findEmitter();
    if (emitter !== null) this.settings.notifier.attach(emitter);
  }

  private async findEmitter(): Promise<EventEmitterLike | null> {
    const registered = [...this.modules.values()].some((module) => module.metatype?.name === 'EventEmitterModule');
    if (!registered) return null;
    try {
      const loaded = (await import('@nestjs/event-emitter')) as { EventEmitter2?: Function; default?: { EventEmitter2?: Function } };
      const token = loaded.EventEmitter2 ?? loaded.default?.EventEmitter2;
      if (token === undefined) return null;
      return this.moduleRef.get(token, { strict: false }) as EventEmitterLike;
    } catch {
      // Not installed, or no EventEmitter2 provider: no events, the hooks still run.
      return null;
    }
  }
}
