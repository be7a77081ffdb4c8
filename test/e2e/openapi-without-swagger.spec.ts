/**
 * @nestjs/swagger is an optional peer: an app without it boots, throttles as ever, and nothing is
 * written in swagger's metadata. The package is made absent by a mock that fails as Jest does for
 * a module that is not installed.
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';

jest.unstable_mockModule('@nestjs/swagger', () => {
  throw Object.assign(new Error("Cannot find module '@nestjs/swagger' from 'lib/nest/openapi/throttled-responses.ts'"), { code: 'MODULE_NOT_FOUND' });
});

const { Controller, Get, Module } = await import('@nestjs/common');
const { ThrottlingModule, UserThrottle, ThrottleClasses } = await import('../../lib/index.js');
const { PLATFORMS, startApp } = await import('../support/http-app.js');

@Controller('contacts')
class ContactsController {
  @Get()
  @ThrottleClasses(UserThrottle.with({ scope: 'tight', rate: '1/min' }))
  list() {
    return [];
  }
}

@Module({ imports: [ThrottlingModule.forRoot({})], controllers: [ContactsController] })
class AppModule {}

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe.each(PLATFORMS)('an app without @nestjs/swagger on %s', (platform) => {
  test('boots, throttles, and writes no swagger metadata', async () => {
    await expect(import('@nestjs/swagger')).rejects.toThrow("Cannot find module '@nestjs/swagger'");
    const app = await startApp(platform, AppModule);
    apps.push(app);
    const url = `${await app.getUrl()}/contacts`.replace('[::1]', '127.0.0.1');
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url)).status).toBe(429);
    expect(Reflect.getMetadataKeys(ContactsController.prototype.list).filter((key) => String(key).startsWith('swagger/'))).toEqual([]);
  });
});
