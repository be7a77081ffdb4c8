/**
 * A Nest app with no transport at all (NestFactory.createApplicationContext: a queue worker, a CLI)
 * boots the module and throttles by hand with ThrottlingService.
 */
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { ThrottlingModule, ThrottlingService } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';

/** Calls a partner API at most twice a minute per account, whatever the queue delivers. */
@Injectable()
class PartnerSync {
  constructor(private readonly throttling: ThrottlingService) {}

  async sync(account: string): Promise<'synced' | `later: ${number} s`> {
    const verdict = await this.throttling.check({ identity: account }, { scope: 'partner', rate: '2/min' });
    return verdict.allowed ? 'synced' : `later: ${verdict.retryAfter ?? 0} s`;
  }
}

describe('a standalone application context', () => {
  let context: INestApplicationContext | undefined;
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  test('boots the module and throttles a worker by hand, per identity', async () => {
    const clock = new FakeClock();
    @Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read })], providers: [PartnerSync] })
    class WorkerModule {}
    context = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
    const worker = context.get(PartnerSync);
    expect([await worker.sync('acme'), await worker.sync('acme'), await worker.sync('acme')]).toEqual(['synced', 'synced', 'later: 60 s']);
    expect(await worker.sync('globex')).toBe('synced');
    clock.now += 60_000;
    expect(await worker.sync('acme')).toBe('synced');
  });
});
