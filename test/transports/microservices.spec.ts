/**
 * A TCP microservice behind the global guard, called through a real ClientProxy. Buckets are per
 * identity (the `rpcIdentity` option, or the payload's user), never one bucket for every caller;
 * the throttled error reaches the caller as `{ status: 429, message, retryAfter }`.
 */
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
import { type ClientProxy, ClientProxyFactory, MessagePattern, Payload, RpcException, type TcpContext, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import { AnonThrottle, ScopedThrottle, ThrottleClasses, ThrottleScope, ThrottlingModule, type ThrottlingModuleOptions, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError } from '../support/http-app.js';
import { SuccessLogThrottle } from './support/success-log.throttle.js';
import { freePort } from '../support/free-port.js';

@Controller()
class MathController {
  @MessagePattern('sum') sum(@Payload() data: { numbers: number[] }) { return data.numbers.reduce((a, b) => a + b, 0); }

  @MessagePattern('upload')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  upload() { return 'uploaded'; }

  @MessagePattern('logged')
  @ThrottleClasses(SuccessLogThrottle)
  logged(@Payload() data: { fail: boolean }) {
    if (data.fail) throw new RpcException({ status: 422, message: 'failed on purpose' });
    return 'logged';
  }
}


describe('TCP microservice', () => {
  let microservice: INestMicroservice | undefined;
  let client: ClientProxy | undefined;
  afterEach(async () => {
    await client?.close();
    await microservice?.close();
    client = microservice = undefined;
  });

  async function boot(options: ThrottlingModuleOptions = {}) {
    const clock = new FakeClock();
    const rates = { anon: '3/min', user: '3/min', uploads: '1/min', ...options.rates };
    class MicroserviceModule {}
    Module({
      imports: [ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle, UserThrottle], clock: clock.read, ...options, rates })],
      controllers: [MathController],
    })(MicroserviceModule);
    const port = await freePort();
    const testing = await Test.createTestingModule({ imports: [MicroserviceModule] }).compile();
    microservice = testing.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
    await microservice.listen();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
    const send = async (pattern: string, data: object): Promise<{ ok?: unknown; error?: any }> => {
      try {
        return { ok: await firstValueFrom(client!.send(pattern, data)) };
      } catch (error) {
        return { error };
      }
    };
    return { clock, send };
  }

  const throttled = (retryAfter: number) => ({
    error: { status: 429, message: `Request was throttled. Expected available in ${retryAfter} ${retryAfter === 1 ? 'second' : 'seconds'}.`, retryAfter },
  });

  test('each identity named by rpcIdentity has its own bucket; the fourth message gets 429 with retryAfter', async () => {
    const { send } = await boot({ rpcIdentity: 'clientId' });
    for (let i = 0; i < 3; i++) expect(await send('sum', { clientId: 'billing', numbers: [i, 1] })).toEqual({ ok: i + 1 });
    expect(await send('sum', { clientId: 'billing', numbers: [1] })).toEqual(throttled(60));
    for (let i = 0; i < 3; i++) expect(await send('sum', { clientId: 'reports', numbers: [i] })).toEqual({ ok: i });
    expect(await send('sum', { clientId: 'reports', numbers: [1] })).toEqual(throttled(60));
  });

  test('an rpcIdentity function that returns an object is told apart by its content, never one "[object Object]" bucket', async () => {
    const { send } = await boot({ rpcIdentity: (data) => data.caller });
    for (let i = 0; i < 3; i++) expect((await send('sum', { caller: { team: 'billing' }, numbers: [1] })).ok).toBe(1);
    expect(await send('sum', { caller: { team: 'billing' }, numbers: [1] })).toEqual(throttled(60));
    expect((await send('sum', { caller: { team: 'reports' }, numbers: [1] })).ok).toBe(1);
  });

  test('rpcIdentity may be a nested field path or a function of the payload and the TcpContext', async () => {
    const nested = await boot({ rpcIdentity: 'meta.tenant' });
    for (let i = 0; i < 3; i++) expect((await nested.send('sum', { meta: { tenant: 't1' }, numbers: [1] })).ok).toBe(1);
    expect(await nested.send('sum', { meta: { tenant: 't1' }, numbers: [1] })).toEqual(throttled(60));
    expect((await nested.send('sum', { meta: { tenant: 't2' }, numbers: [1] })).ok).toBe(1);
    await client!.close();
    await microservice!.close();

    const seen: string[] = [];
    const byFunction = await boot({
      rpcIdentity: (data, context: TcpContext) => {
        seen.push(context.getPattern());
        return data.apiKey;
      },
    });
    for (let i = 0; i < 3; i++) expect((await byFunction.send('sum', { apiKey: 'k1', numbers: [2] })).ok).toBe(2);
    expect(await byFunction.send('sum', { apiKey: 'k1', numbers: [2] })).toEqual(throttled(60));
    expect((await byFunction.send('sum', { apiKey: 'k2', numbers: [2] })).ok).toBe(2);
    expect(seen).toEqual(['sum', 'sum', 'sum', 'sum', 'sum']);
  });

  test('the payload user is the identity by default: per-user buckets, AnonThrottle skips users', async () => {
    const { send } = await boot({ rates: { anon: '1/min' } });
    for (let i = 0; i < 3; i++) expect((await send('sum', { user: { id: 'alice' }, numbers: [1] })).ok).toBe(1);
    expect(await send('sum', { user: { id: 'alice' }, numbers: [1] })).toEqual(throttled(60));
    for (let i = 0; i < 3; i++) expect((await send('sum', { user: { id: 'bob' }, numbers: [1] })).ok).toBe(1);
  });

  test('a message with no identity is refused with status 400, never pooled with other callers', async () => {
    const { send } = await boot({ rpcIdentity: 'clientId' });
    for (let i = 0; i < 5; i++) {
      const { error } = await send('sum', { numbers: [1] });
      expect(error.status).toBe(400);
      expect(error.message).toContain("cannot throttle the message to pattern 'sum': it carries no identity");
      expect(error.message).toContain('rpcIdentity');
    }
    // The refusals were not counted against anybody.
    for (let i = 0; i < 3; i++) expect((await send('sum', { clientId: 'billing', numbers: [1] })).ok).toBe(1);
  });

  test('a scoped message pattern has its own bucket', async () => {
    const { send } = await boot({ rpcIdentity: 'clientId' });
    expect(await send('upload', { clientId: 'billing' })).toEqual({ ok: 'uploaded' });
    expect(await send('upload', { clientId: 'billing' })).toEqual(throttled(60));
    for (let i = 0; i < 3; i++) expect((await send('sum', { clientId: 'billing', numbers: [1] })).ok).toBe(1);
    expect(await send('upload', { clientId: 'reports' })).toEqual({ ok: 'uploaded' });
  });

  test('retryAfter follows DRF: 3/min at t=0, 20, 40 waits 20 s; at t=70, 10 s', async () => {
    const { send, clock } = await boot({ rpcIdentity: 'clientId' });
    for (const t of [0, 20, 40]) {
      clock.set(t);
      expect((await send('sum', { clientId: 'c', numbers: [t] })).ok).toBe(t);
    }
    expect(await send('sum', { clientId: 'c', numbers: [1] })).toEqual(throttled(20));
    clock.set(60);
    expect((await send('sum', { clientId: 'c', numbers: [1] })).ok).toBe(1);
    clock.set(70);
    expect(await send('sum', { clientId: 'c', numbers: [1] })).toEqual(throttled(10));
  });

  test('a malformed rpcIdentity fails the boot, naming the bad value', async () => {
    for (const bad of [42, '', 'meta..tenant']) {
      @Module({ imports: [ThrottlingModule.forRoot({ rpcIdentity: bad as never })] })
      class BadModule {}
      const error = await bootError(BadModule);
      expect(error?.message).toContain(`rpcIdentity must be a payload field path such as 'clientId' or 'meta.tenant', or a function (data, context) => identity, got ${typeof bad === 'string' ? `'${bad}'` : bad}`);
    }
  });

  test('accessed() runs once per message whose handler succeeded (Tastypie)', async () => {
    const { send } = await boot({ rpcIdentity: 'clientId' });
    SuccessLogThrottle.entries.length = 0;
    expect(await send('logged', { clientId: 'billing', fail: false })).toEqual({ ok: 'logged' });
    expect((await send('logged', { clientId: 'billing', fail: true })).error).toEqual({ status: 422, message: 'failed on purpose' });
    expect(await send('logged', { clientId: 'reports', fail: false })).toEqual({ ok: 'logged' });
    expect(SuccessLogThrottle.entries).toEqual(['rpc logged billing', 'rpc logged reports']);
  });
});
