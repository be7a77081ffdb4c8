import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { FailSafeThrottleStore } from '../../stores/fail-safe-throttle-store.js';
import { RedisThrottleStore } from '../../stores/redis/redis-throttle-store.js';
import type { ThrottlingModuleOptions } from '../module/throttling-options.interface.js';
import type { ThrottlingSettings } from '../module/throttling-settings.js';
import { THROTTLING_OPTIONS, THROTTLING_SETTINGS } from '../module/tokens.js';

/**
 * The `clock` option reaches the memory store and the 'local' fallback, but not a RedisThrottleStore
 * built without a clock of its own: that one counts in the Redis server's time. A test that moves a
 * fake clock would see Redis's windows stand still with no hint why, so the boot says so (at
 * bootstrap, where the app's logger is in place).
 */
@Injectable()
export class StoreClockCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('ThrottlingModule');

  constructor(
    @Inject(THROTTLING_OPTIONS) private readonly options: ThrottlingModuleOptions | undefined,
    @Inject(THROTTLING_SETTINGS) private readonly settings: ThrottlingSettings,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options?.clock === undefined) return;
    const configured = this.settings.runtime.store;
    const store = configured instanceof FailSafeThrottleStore ? configured.inner : configured;
    if (!(store instanceof RedisThrottleStore) || !store.usesServerTime) return;
    this.logger.warn(
      "the clock option does not reach RedisThrottleStore, which counts in the Redis server's time; to test with a clock, give it to the store: new RedisThrottleStore(client, { clock })",
    );
  }
}
