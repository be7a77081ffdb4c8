import { describe, expect, test } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type { ThrottleContext, ThrottlingSettings, TransportBinding } from '../../lib/index.js';
import { createThrottlingSettings } from '../../lib/nest/module/throttling-settings.js';

/** A custom transport written before TransportSettings: its createContext declares the whole ThrottlingSettings. */
class SettingsTypedTransport implements TransportBinding {
  seen: ThrottlingSettings | undefined;
  requestToken(context: ExecutionContext): object {
    return context.getArgByIndex(0);
  }
  createContext(context: ExecutionContext, scope: string | undefined, settings: ThrottlingSettings): ThrottleContext {
    this.seen = settings;
    const job = context.getArgByIndex(0) as { tenant: string };
    return { transport: 'job', request: job, response: undefined, ident: settings.clientIdentity.ofGivenIdentity(job.tenant), user: undefined, userId: settings.userId(job, undefined), scope, method: 'JOB', url: 'job' } as ThrottleContext;
  }
  setHeader(): void {}
  throttledError(): Error {
    return new Error('throttled');
  }
}

describe('TransportSettings', () => {
  test('a binding typed with ThrottlingSettings still implements TransportBinding and receives the module settings', async () => {
    const settings = await createThrottlingSettings({}, {} as ModuleRef);
    const transport = new SettingsTypedTransport();
    const binding: TransportBinding = transport;
    const context = { getArgByIndex: () => ({ tenant: 'acme' }) } as unknown as ExecutionContext;
    const ctx = binding.createContext(context, 'jobs', settings);
    expect(transport.seen).toBe(settings);
    expect(ctx.ident).toBe(settings.clientIdentity.ofGivenIdentity('acme'));
    expect(ctx.userId).toBeNull();
  });
});
