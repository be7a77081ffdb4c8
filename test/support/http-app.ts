import type { INestApplication, Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterEach } from '@jest/globals';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

export interface AppOptions {
  /** Express 'trust proxy' / Fastify trustProxy. */
  readonly trustProxy?: boolean;
}

/** Boots a module on a real HTTP server (listening on an ephemeral loopback port). */
export async function startApp(platform: Platform, module: Type<unknown>, options: AppOptions = {}): Promise<INestApplication> {
  const testing = await Test.createTestingModule({ imports: [module] }).compile();
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: options.trustProxy ?? false });
  const app = testing.createNestApplication(adapter, { logger: false });
  if (platform === 'express' && options.trustProxy) (app as any).set('trust proxy', true);
  await app.init();
  if (platform === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  await app.listen(0, '127.0.0.1');
  return app;
}

/** Boots a module and returns the bootstrap error (or undefined when it booted). */
export async function bootError(module: Type<unknown>): Promise<Error | undefined> {
  try {
    const testing = await Test.createTestingModule({ imports: [module] }).compile();
    const app = testing.createNestApplication(new ExpressAdapter(), { logger: false });
    await app.init();
    await app.close();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/**
 * One app per test on `platform`, closed after each test: call it in a describe, then `start()` the
 * test's module (it returns the app, already listening).
 */
export function appPerTest(platform: Platform, options: AppOptions = {}): { start(module: Type<unknown>): Promise<INestApplication> } {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  return {
    async start(module) {
      app = await startApp(platform, module, options);
      return app;
    },
  };
}
