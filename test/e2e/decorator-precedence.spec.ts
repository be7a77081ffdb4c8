import { Controller, Get } from '@nestjs/common';
import { describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { ScopedThrottle, ThrottleClasses, ThrottleScope, UserThrottle } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { appPerTest, PLATFORMS, type Platform } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';

const DefaultThrottle = UserThrottle.with({ scope: 'default', rate: '4/min' });
const ControllerThrottle = UserThrottle.with({ scope: 'controller', rate: '3/min' });
const HandlerThrottle = UserThrottle.with({ scope: 'handler', rate: '1/min' });

@Controller('plain')
class PlainController {
  @Get() list() { return 'plain'; }
  @Get('handler') @ThrottleClasses(HandlerThrottle) handler() { return 'handler'; }
  @Get('health') @ThrottleClasses() health() { return 'ok'; }
}

@Controller('listed')
@ThrottleClasses(ControllerThrottle)
class ListedController {
  @Get() list() { return 'listed'; }
  @Get('handler') @ThrottleClasses(HandlerThrottle) handler() { return 'handler'; }
  @Get('health') @ThrottleClasses() health() { return 'ok'; }
}

@Controller('off')
@ThrottleClasses()
class OffController {
  @Get() list() { return 'off'; }
  @Get('handler') @ThrottleClasses(HandlerThrottle) handler() { return 'handler'; }
}

@Controller('scoped')
@ThrottleClasses(ScopedThrottle)
@ThrottleScope('contacts')
class ScopedController {
  @Get() list() { return 'contacts'; }
  @Get('also') also() { return 'contacts too'; }
  @Get('uploads') @ThrottleScope('uploads') upload() { return 'upload'; }
  // DRF's `throttle_scope = None` on a subclass: the handler clears the controller's scope.
  @Get('unscoped') @ThrottleScope(null) unscoped() { return 'unscoped'; }
}

@Controller('base')
@ThrottleClasses(ScopedThrottle)
@ThrottleScope('contacts')
class BaseScopedController {
  @Get() list() { return 'base'; }
}

@Controller('sub')
@ThrottleScope(null)
class UnscopedSubController extends BaseScopedController {}

@Controller('shared')
@ThrottleClasses(ScopedThrottle)
class SharedScopeController {
  @Get('a') @ThrottleScope('uploads') a() { return 'a'; }
  @Get('b') @ThrottleScope('uploads') b() { return 'b'; }
  @Get('c') @ThrottleScope('contacts') c() { return 'c'; }
}

describe.each(PLATFORMS)('decorator precedence on %s', (platform: Platform) => {
  const apps = appPerTest(platform);

  async function boot() {
    const clock = new FakeClock();
    const app = await apps.start(
      testModule({
        options: { clock: clock.read, defaultThrottles: [DefaultThrottle], rates: { contacts: '3/min', uploads: '2/min' } },
        controllers: [PlainController, ListedController, OffController, ScopedController, SharedScopeController, BaseScopedController, UnscopedSubController],
      }),
    );
    const server = app.getHttpServer();
    return (path: string) => request(server).get(path);
  }

  /** How many requests pass before the first 429 (bounded). */
  async function allowedBeforeThrottled(get: (path: string) => request.Test, path: string, max = 10): Promise<number> {
    for (let i = 0; i < max; i++) if ((await get(path)).status === 429) return i;
    return max;
  }

  test('a route with no decorator uses defaultThrottles', async () => {
    const get = await boot();
    const first = await get('/plain');
    expect(first.headers['ratelimit-policy']).toBe('"default";q=4;w=60');
    expect(await allowedBeforeThrottled(get, '/plain')).toBe(3);
  });

  test('a handler list beats defaultThrottles', async () => {
    const get = await boot();
    expect((await get('/plain/handler')).headers['ratelimit-policy']).toBe('"handler";q=1;w=60');
    expect((await get('/plain/handler')).status).toBe(429);
  });

  test('a controller list beats defaultThrottles', async () => {
    const get = await boot();
    expect((await get('/listed')).headers['ratelimit-policy']).toBe('"controller";q=3;w=60');
    expect(await allowedBeforeThrottled(get, '/listed')).toBe(2);
  });

  test('a handler list beats the controller list', async () => {
    const get = await boot();
    expect((await get('/listed/handler')).headers['ratelimit-policy']).toBe('"handler";q=1;w=60');
    expect((await get('/listed/handler')).status).toBe(429);
    // The controller's bucket was not touched by the handler's requests.
    expect((await get('/listed')).headers['ratelimit']).toBe('"controller";r=2;t=60');
  });

  test('@ThrottleClasses() with no arguments turns throttling off on a handler, despite controller and defaults', async () => {
    const get = await boot();
    for (const path of ['/plain/health', '/listed/health']) {
      for (let i = 0; i < 10; i++) {
        const response = await get(path);
        expect(response.status).toBe(200);
        expect(response.headers['ratelimit-policy']).toBeUndefined();
      }
    }
  });

  test('@ThrottleClasses() on a controller turns throttling off for its handlers, unless a handler names its own', async () => {
    const get = await boot();
    expect(await allowedBeforeThrottled(get, '/off')).toBe(10);
    expect((await get('/off')).headers['ratelimit-policy']).toBeUndefined();
    expect(await allowedBeforeThrottled(get, '/off/handler')).toBe(1);
  });

  test('@ThrottleScope on the controller applies to its handlers', async () => {
    const get = await boot();
    expect((await get('/scoped')).headers['ratelimit-policy']).toBe('"contacts";q=3;w=60');
  });

  test('@ThrottleScope on a handler beats the controller scope', async () => {
    const get = await boot();
    expect((await get('/scoped/uploads')).headers['ratelimit-policy']).toBe('"uploads";q=2;w=60');
    expect(await allowedBeforeThrottled(get, '/scoped/uploads')).toBe(1);
    expect((await get('/scoped')).status).toBe(200);
  });

  test('@ThrottleScope(null) on a handler clears the controller scope: ScopedThrottle does not throttle it', async () => {
    const get = await boot();
    for (let i = 0; i < 6; i++) {
      const response = await get('/scoped/unscoped');
      expect(response.status).toBe(200);
      expect(response.headers['ratelimit-policy']).toBeUndefined();
    }
    // The controller's other handlers keep its scope, and the unscoped handler took nothing from its bucket.
    expect((await get('/scoped')).headers['ratelimit']).toBe('"contacts";r=2;t=60');
  });

  test('@ThrottleScope(null) on a controller subclass clears the scope it inherits', async () => {
    const get = await boot();
    for (let i = 0; i < 5; i++) expect((await get('/sub')).status).toBe(200);
    expect(await allowedBeforeThrottled(get, '/base')).toBe(3);
  });

  test('handlers sharing a scope share a bucket', async () => {
    const get = await boot();
    expect((await get('/shared/a')).status).toBe(200);
    expect((await get('/shared/b')).status).toBe(200);
    expect((await get('/shared/a')).status).toBe(429);
    expect((await get('/shared/b')).status).toBe(429);
    // /scoped/uploads is in the same scope on another controller: same bucket.
    expect((await get('/scoped/uploads')).status).toBe(429);
    expect((await get('/shared/c')).status).toBe(200);
  });

  test('handlers inheriting one controller scope share its bucket', async () => {
    const get = await boot();
    expect((await get('/scoped')).status).toBe(200);
    expect((await get('/scoped/also')).status).toBe(200);
    expect((await get('/shared/c')).status).toBe(200);
    expect((await get('/scoped')).status).toBe(429);
  });
});

describe('@ThrottleScope() arguments', () => {
  test.each([
    ['', "''"],
    [5, '5'],
    [undefined, 'undefined'],
    [{ scope: 'a' }, '{"scope":"a"}'],
  ])('%p is refused, naming the value', (value, quoted) => {
    expect(() => ThrottleScope(value as never)).toThrow(`@ThrottleScope() takes a non-empty string, or null to clear the controller's scope, got ${quoted}`);
  });
});
