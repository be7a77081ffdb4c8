/**
 * A transport of the app's own (here: report jobs, run through Nest's ExternalContextCreator with
 * the context type 'job', the way @nestjs/graphql runs resolvers) throttled by the global guard once
 * the `transports` option binds its context type. The binding is a class, so its methods rely on
 * `this`, as a custom binding written by a user may.
 */
import { type ExecutionContext, Injectable, type INestApplicationContext } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { ExternalContextCreator, NestFactory } from '@nestjs/core';
import {
  ThrottleClasses,
  ThrottleConfigError,
  type ThrottleContext,
  type ThrottlingModuleOptions,
  type TransportBinding,
  UserThrottle,
} from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { testModule } from '../support/test-app.js';
import { SuccessLogThrottle } from './support/success-log.throttle.js';

/** What a job run hands its handler: the job's input, and a receipt the runner reads afterwards. */
interface JobInput {
  readonly tenant: string;
}
interface JobReceipt {
  readonly headers: Record<string, string>;
}

class JobThrottledError extends Error {
  constructor(readonly wait: number | null) {
    super(`job throttled${wait === null ? '' : `, retry in ${Math.ceil(wait)} s`}`);
  }
}

/** Jobs are counted per tenant; rate-limit headers go on the receipt. */
class JobTransport implements TransportBinding {
  private readonly method = 'JOB';

  requestToken(context: ExecutionContext): object {
    return context.getArgByIndex(1);
  }

  createContext(context: ExecutionContext, scope: string | undefined): ThrottleContext {
    const input: JobInput = context.getArgByIndex(0);
    return {
      transport: 'job',
      request: input,
      response: context.getArgByIndex(1),
      ident: input.tenant,
      user: undefined,
      userId: null,
      scope,
      controller: context.getClass(),
      handler: context.getHandler(),
      method: this.method,
      url: `${context.getClass().name}.${context.getHandler().name}`,
    };
  }

  setHeader(ctx: ThrottleContext, name: string, value: string): void {
    (ctx.response as JobReceipt).headers[name] = value;
  }

  throttledError(wait: number | null): Error {
    return new JobThrottledError(wait);
  }
}

@Injectable()
@ThrottleClasses(UserThrottle.with({ scope: 'reports', rate: '2/min' }))
class ReportJobs {
  monthly(input: JobInput, _receipt: JobReceipt): string {
    return `monthly report for ${input.tenant}`;
  }

  @ThrottleClasses(SuccessLogThrottle)
  audited(input: JobInput, _receipt: JobReceipt): string {
    if (input.tenant === 'broken') throw new Error('the audit failed');
    return `audit for ${input.tenant}`;
  }
}

type JobRunner = (input: JobInput, receipt: JobReceipt) => Promise<string>;

describe('a custom transport bound with the transports option', () => {
  let app: INestApplicationContext | undefined;
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock();
    SuccessLogThrottle.entries.length = 0;
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(options: ThrottlingModuleOptions): Promise<void> {
    app = await NestFactory.createApplicationContext(testModule({ options: { clock: clock.read, ...options }, providers: [ReportJobs], auth: false }), { logger: false });
  }

  /** Wraps a ReportJobs method the way a transport's runner would: guards and interceptors, under `contextType`. */
  function runner(method: 'monthly' | 'audited', contextType: string): JobRunner {
    const jobs = app!.get(ReportJobs);
    const creator = app!.get(ExternalContextCreator);
    const options = { guards: true, interceptors: true, filters: false };
    return creator.create(jobs, jobs[method] as (...args: unknown[]) => unknown, method, undefined, undefined, undefined, undefined, options, contextType) as JobRunner;
  }

  const receipt = (): JobReceipt => ({ headers: {} });

  test('jobs over the rate are refused with the binding\'s error and Retry-After on its receipt', async () => {
    await boot({ transports: { job: new JobTransport() } });
    const monthly = runner('monthly', 'job');

    const first = receipt();
    await expect(monthly({ tenant: 'acme' }, first)).resolves.toBe('monthly report for acme');
    expect(first.headers['ratelimit-policy']).toBe('"reports";q=2;w=60');
    expect(first.headers.ratelimit).toBe('"reports";r=1;t=60');

    clock.advance(10);
    await expect(monthly({ tenant: 'acme' }, receipt())).resolves.toBe('monthly report for acme');

    const refused = receipt();
    const error = await monthly({ tenant: 'acme' }, refused).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JobThrottledError);
    // DRF: (60 - (10 - 0)) / (2 - 2 + 1) = 50 s until the oldest job leaves the window.
    expect((error as JobThrottledError).wait).toBe(50);
    expect(refused.headers['retry-after']).toBe('50');
    expect(refused.headers.ratelimit).toBe('"reports";r=0;t=50');
  });

  test('each tenant has its own bucket, and the window slides', async () => {
    await boot({ transports: { job: new JobTransport() } });
    const monthly = runner('monthly', 'job');
    await monthly({ tenant: 'acme' }, receipt());
    await monthly({ tenant: 'acme' }, receipt());
    await expect(monthly({ tenant: 'acme' }, receipt())).rejects.toBeInstanceOf(JobThrottledError);
    await expect(monthly({ tenant: 'globex' }, receipt())).resolves.toBe('monthly report for globex');

    clock.advance(60);
    await expect(monthly({ tenant: 'acme' }, receipt())).resolves.toBe('monthly report for acme');
  });

  test('one job run is counted once, however many times the guard is asked about it', async () => {
    await boot({ transports: { job: new JobTransport() } });
    const monthly = runner('monthly', 'job');
    const sameRun = receipt();
    await monthly({ tenant: 'acme' }, sameRun);
    await monthly({ tenant: 'acme' }, sameRun);
    // The receipt is the request token: the second call belonged to the first run and was not counted.
    await expect(monthly({ tenant: 'acme' }, receipt())).resolves.toBe('monthly report for acme');
    await expect(monthly({ tenant: 'acme' }, receipt())).rejects.toBeInstanceOf(JobThrottledError);
  });

  test('a throttle that records after the handler sees only the jobs that succeeded', async () => {
    await boot({ transports: { job: new JobTransport() } });
    const audited = runner('audited', 'job');
    await audited({ tenant: 'acme' }, receipt());
    await expect(audited({ tenant: 'broken' }, receipt())).rejects.toThrow('the audit failed');
    expect(SuccessLogThrottle.entries).toEqual(['job ReportJobs.audited acme']);
  });

  test('a context type with no binding passes untouched', async () => {
    await boot({ transports: { job: new JobTransport() } });
    const cron = runner('monthly', 'cron');
    for (let i = 0; i < 5; i++) {
      const untouched = receipt();
      await expect(cron({ tenant: 'acme' }, untouched)).resolves.toBe('monthly report for acme');
      expect(untouched.headers).toEqual({});
    }
  });

  test('a binding for a built-in context type replaces the built-in one', async () => {
    await boot({ transports: { rpc: new JobTransport() } });
    const monthly = runner('monthly', 'rpc');
    const first = receipt();
    await monthly({ tenant: 'acme' }, first);
    expect(first.headers['ratelimit-policy']).toBe('"reports";q=2;w=60');
    await monthly({ tenant: 'acme' }, receipt());
    await expect(monthly({ tenant: 'acme' }, receipt())).rejects.toBeInstanceOf(JobThrottledError);
  });

  test('without the option, the job context type is not throttled', async () => {
    await boot({});
    const monthly = runner('monthly', 'job');
    for (let i = 0; i < 5; i++) await expect(monthly({ tenant: 'acme' }, receipt())).resolves.toBe('monthly report for acme');
  });
});

describe('the transports option is validated at boot', () => {
  async function bootFailure(transports: unknown): Promise<Error> {
    const module = testModule({ options: { transports: transports as ThrottlingModuleOptions['transports'] }, providers: [ReportJobs], auth: false });
    const error = await NestFactory.createApplicationContext(module, { logger: false, abortOnError: false }).then(
      async (context) => {
        await context.close();
        return undefined;
      },
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(ThrottleConfigError);
    return error!;
  }

  test('a binding that lacks a method names the context type and the method', async () => {
    const { requestToken, createContext, setHeader } = new JobTransport();
    const error = await bootFailure({ job: { requestToken, createContext, setHeader } });
    expect(error.message).toContain('transports.job.throttledError must be a function');
    expect(error.message).toContain('undefined');
  });

  test('an optional member that is not a function', async () => {
    const transport = Object.assign(new JobTransport(), { countsByDefault: true });
    const error = await bootFailure({ job: transport });
    expect(error.message).toContain('transports.job.countsByDefault must be a function when given, got true');
  });

  test('a binding that is not an object, and transports that is not an object', async () => {
    expect((await bootFailure({ job: 'http' })).message).toContain("transports.job must be a TransportBinding object, got 'http'");
    expect((await bootFailure([new JobTransport()])).message).toContain('transports must be an object of context type -> TransportBinding');
  });
});
