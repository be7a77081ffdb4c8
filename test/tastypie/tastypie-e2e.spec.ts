import {
  BadRequestException,
  type CanActivate,
  Controller,
  Delete,
  type ExecutionContext,
  Get,
  Injectable,
  type INestApplication,
  Module,
  Post,
  Query,
  Req,
  Res,
  UnauthorizedException,
  UseGuards,
  Body,
  HttpCode,
} from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { CacheThrottle, ThrottleClasses, ThrottlingModule, ThrottlingService } from '../../lib/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { bootError, PLATFORMS, startApp } from '../support/http-app.js';

const clock = new FakeClock();

/** Signs a request in from `X-User` (a stand-in for a real authentication guard); never refuses. */
@Injectable()
class SignInGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    const name = req.headers['x-user'];
    if (typeof name === 'string') req.user = { username: name, id: `id-${name}` };
    return true;
  }
}

@Injectable()
class RequireUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.switchToHttp().getRequest().user === undefined) throw new UnauthorizedException();
    return true;
  }
}

const NotesThrottle = CacheThrottle.with({ throttleAt: 2, timeframe: 5, expiration: 2 });

@Controller('notes')
@UseGuards(SignInGuard)
@ThrottleClasses(NotesThrottle)
class NotesController {
  @Get() list() {
    return { notes: [] };
  }
  @Get('bad') bad() {
    throw new BadRequestException('bad note');
  }
  @Get('boom') boom() {
    throw new Error('boom');
  }
  @Get('private') @UseGuards(RequireUserGuard) mine() {
    return { notes: ['mine'] };
  }
  @Delete(':id') @HttpCode(204) remove() {}
}

// Authentication sits on the controller, so throttles run from the interceptor, after it.
@Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read, enforceAt: 'interceptor' })], controllers: [NotesController] })
class NotesModule {}

/** A Tastypie-style custom throttle with a constructor-injected service, not listed as a provider. */
@Injectable()
class Ledger {
  readonly seen = new Set<string>();
}

@Injectable()
class FirstVisitOnlyThrottle {
  constructor(private readonly ledger: Ledger) {}
  shouldBeThrottled(identifier: string): false | number {
    return this.ledger.seen.has(identifier) ? 7 : false;
  }
  accessed(identifier: string): void {
    this.ledger.seen.add(identifier);
  }
}

@Controller('visits')
@ThrottleClasses(FirstVisitOnlyThrottle)
class VisitsController {
  constructor(private readonly ledger: Ledger) {}
  @Get() visit(@Req() req: any) {
    // accessed() runs after the handler: the visit being served is not recorded yet.
    return { recordedBeforeHandlerReturned: this.ledger.seen.has(req.ip?.replace(/^::ffff:/, '') ?? '') };
  }
  @Get('bad') bad() {
    throw new BadRequestException();
  }
}

@Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read })], controllers: [VisitsController], providers: [Ledger] })
class VisitsModule {}

@Controller('default')
class DefaultController {
  @Get() get() {
    return { ok: true };
  }
  @Get('private') @UseGuards(RequireUserGuard) mine() {
    return { ok: true };
  }
  @Get('bad') bad() {
    throw new BadRequestException();
  }
}

@Module({
  imports: [ThrottlingModule.forRoot({ clock: clock.read, defaultThrottles: [CacheThrottle.with({ throttleAt: 1, timeframe: 60 })] })],
  controllers: [DefaultController],
})
class DefaultsModule {}

@Module({
  imports: [
    ThrottlingModule.forRootAsync({
      recordAccesses: true,
      useFactory: () => ({ clock: clock.read, defaultThrottles: [CacheThrottle.with({ throttleAt: 1, timeframe: 60 })] }),
    }),
  ],
  controllers: [DefaultController],
})
class AsyncDefaultsModule {}

@Module({
  imports: [ThrottlingModule.forRootAsync({ useFactory: () => ({ defaultThrottles: [CacheThrottle] }) })],
  controllers: [DefaultController],
})
class AsyncDefaultsWithoutFlagModule {}

const SearchThrottle = CacheThrottle.with({ throttleAt: 2, timeframe: 60, scope: 'search' });
const LoginThrottle = CacheThrottle.with({ throttleAt: 3, timeframe: 300, scope: 'login' });

/** Tastypie's "Usage with Resource": throttle_check and log_throttled_access called by hand. */
@Controller()
@ThrottleClasses()
class ManualController {
  constructor(private readonly throttling: ThrottlingService) {}

  @Get('search')
  async search(@Req() req: any, @Res({ passthrough: true }) res: any, @Query('q') q?: string) {
    await this.throttling.enforce(req, SearchThrottle, { response: res });
    if (!q) throw new BadRequestException('q is required');
    const results = ['apple', 'apricot', 'banana'].filter((word) => word.startsWith(q));
    await this.throttling.accessed(req, SearchThrottle);
    return { results };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Body() body: { username?: string; password?: string }, @Res({ passthrough: true }) res: any) {
    const who = { identity: String(body.username ?? '') };
    await this.throttling.enforce(who, LoginThrottle, { response: res, url: '/login', method: 'POST' });
    if (body.password !== 'secret') {
      await this.throttling.accessed(who, LoginThrottle);
      throw new UnauthorizedException('wrong username or password');
    }
    await this.throttling.reset(who, LoginThrottle);
    return { token: `token-for-${body.username}` };
  }
}

@Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read, rates: { otp: '2/min' } })], controllers: [ManualController] })
class ManualModule {}

/** Counts every client as one: accessed() must record under this identifier too, not the client's address. */
@Injectable()
class OneBucketThrottle extends CacheThrottle.with({ throttleAt: 1, timeframe: 60 }) {
  override identifierFor(): string {
    return 'fixed';
  }
}

const MinuteThrottle = CacheThrottle.with({ throttleAt: 1, timeframe: 60 });

@Controller()
class ClientsController {
  @Get('one-bucket') @ThrottleClasses(OneBucketThrottle) oneBucket() {
    return { ok: true };
  }
  @Get('minute') @ThrottleClasses(MinuteThrottle) minute() {
    return { ok: true };
  }
}

// numProxies 1: the client is the address in X-Forwarded-For, so one test process plays several clients.
@Module({ imports: [ThrottlingModule.forRoot({ clock: clock.read, numProxies: 1, headers: 'both' })], controllers: [ClientsController] })
class ClientsModule {}

describe.each(PLATFORMS)('Tastypie throttles over HTTP on %s', (platform) => {
  describe('CacheThrottle on a controller', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startApp(platform, NotesModule);
    });
    afterAll(async () => app.close());
    beforeEach(() => clock.set(1000 + Math.random() * 1000));

    test('404/405, 401 and handler errors (4xx, 5xx) are not counted; successes are, and the third is throttled with Retry-After 5', async () => {
      const server = app.getHttpServer();
      for (let i = 0; i < 3; i++) {
        await request(server).get('/notes/bad').expect(400);
        await request(server).get('/notes/boom').expect(500);
        await request(server).get('/notes/private').expect(401);
        await request(server).post('/notes').expect(404);
      }
      const service = app.get(ThrottlingService);
      expect((await service.peek({ identity: '127.0.0.1' }, NotesThrottle)).count).toBe(0);

      await request(server).get('/notes').expect(200);
      await request(server).get('/notes').expect(200);
      expect((await service.peek({ identity: '127.0.0.1' }, NotesThrottle)).count).toBe(2);
      const throttled = await request(server).get('/notes').expect(429);
      expect(throttled.headers['retry-after']).toBe('5');
      expect(throttled.body.message).toBe('Request was throttled. Expected available in 5 seconds.');

      // A throttled request is not an access either; six seconds later the window is empty.
      expect((await service.peek({ identity: '127.0.0.1' }, NotesThrottle)).count).toBe(2);
      clock.advance(6);
      await request(server).get('/notes').expect(200);
      await service.reset({ identity: '127.0.0.1' }, NotesThrottle);
    });

    test('signed-in users are counted by username, apart from each other and from the address', async () => {
      const server = app.getHttpServer();
      await request(server).get('/notes/private').set('X-User', 'daniel').expect(200);
      await request(server).get('/notes').set('X-User', 'daniel').expect(200);
      await request(server).get('/notes').set('X-User', 'daniel').expect(429);
      await request(server).get('/notes').set('X-User', 'cody').expect(200);
      await request(server).get('/notes').expect(200);
      const service = app.get(ThrottlingService);
      expect((await service.peek({ identity: 'daniel' }, NotesThrottle)).count).toBe(2);
      expect((await service.peek({ identity: 'cody' }, NotesThrottle)).count).toBe(1);
      for (const identity of ['daniel', 'cody', '127.0.0.1']) await service.reset({ identity }, NotesThrottle);
    });

    test('an allowed request carries RateLimit headers for the Tastypie policy', async () => {
      const res = await request(app.getHttpServer()).get('/notes').set('X-User', 'headers').expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"tastypie";q=2;w=5');
      expect(res.headers['ratelimit']).toMatch(/^"tastypie";r=1;t=5$/);
    });
  });

  test('a Tastypie-style custom throttle is resolved through DI and records after the handler succeeded', async () => {
    const app = await startApp(platform, VisitsModule);
    try {
      const server = app.getHttpServer();
      await request(server).get('/visits/bad').expect(400);
      await request(server).get('/visits/bad').expect(400);
      const first = await request(server).get('/visits').expect(200);
      expect(first.body).toEqual({ recordedBeforeHandlerReturned: false });
      const second = await request(server).get('/visits').expect(429);
      expect(second.headers['retry-after']).toBe('7');
    } finally {
      await app.close();
    }
  });

  describe('per-client throttles', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startApp(platform, ClientsModule);
    });
    afterAll(async () => app.close());

    test('a throttle whose identifierFor() puts every client in one bucket records accesses in that bucket', async () => {
      clock.set(20_000);
      const server = app.getHttpServer();
      await request(server).get('/one-bucket').set('X-Forwarded-For', '198.51.100.1').expect(200);
      await request(server).get('/one-bucket').set('X-Forwarded-For', '198.51.100.2').expect(429);
    });

    test('a throttled response resets when the blocking access leaves the window, not a whole timeframe later', async () => {
      clock.set(30_000);
      const server = app.getHttpServer();
      const client = { 'X-Forwarded-For': '198.51.100.3' };
      await request(server).get('/minute').set(client).expect(200);
      clock.advance(20);
      const throttled = await request(server).get('/minute').set(client).expect(429);
      expect(throttled.headers['ratelimit']).toBe('"tastypie";r=0;t=40');
      expect(throttled.headers['x-ratelimit-reset']).toBe('40');
      expect(throttled.headers['retry-after']).toBe('40');
      await request(server).get('/minute').set('X-Forwarded-For', '198.51.100.4').expect(200);
    });
  });

  test('defaultThrottles with a CacheThrottle record through the global interceptor (forRoot)', async () => {
    clock.set(5000);
    const app = await startApp(platform, DefaultsModule);
    try {
      const server = app.getHttpServer();
      await request(server).get('/default/bad').expect(400);
      // The global guard passed it, then the route's auth guard refused it: not an access.
      await request(server).get('/default/private').expect(401);
      await request(server).get('/default').expect(200);
      await request(server).get('/default').expect(429);
    } finally {
      await app.close();
    }
  });

  test('forRootAsync records default accesses with recordAccesses: true', async () => {
    clock.set(5000);
    const app = await startApp(platform, AsyncDefaultsModule);
    try {
      const server = app.getHttpServer();
      await request(server).get('/default/bad').expect(400);
      await request(server).get('/default').expect(200);
      await request(server).get('/default').expect(429);
    } finally {
      await app.close();
    }
  });

  describe('manual checks in custom routes (ThrottlingService)', () => {
    let app: INestApplication;
    beforeAll(async () => {
      clock.set(10_000);
      app = await startApp(platform, ManualModule);
    });
    afterAll(async () => app.close());

    test('a search endpoint throttled by hand: failed searches are not logged, the third search waits 60 s', async () => {
      const server = app.getHttpServer();
      await request(server).get('/search').expect(400);
      await request(server).get('/search').expect(400);
      const first = await request(server).get('/search?q=ap').expect(200);
      expect(first.body).toEqual({ results: ['apple', 'apricot'] });
      expect(first.headers['ratelimit-policy']).toBe('"search";q=2;w=60');
      await request(server).get('/search?q=b').expect(200);
      const throttled = await request(server).get('/search?q=c').expect(429);
      expect(throttled.headers['retry-after']).toBe('60');
      expect(throttled.body.message).toBe('Request was throttled. Expected available in 60 seconds.');
    });

    test('manual checks of different throttles, one after the other, each write their own RateLimit-Policy', async () => {
      const server = app.getHttpServer();
      const policies = [];
      for (const path of ['/search', '/login', '/search']) {
        const call = path === '/login' ? request(server).post(path).send({ username: 'erin', password: 'guess' }) : request(server).get(path);
        policies.push((await call).headers['ratelimit-policy']);
      }
      expect(policies).toEqual(['"search";q=2;w=60', '"login";q=3;w=300', '"search";q=2;w=60']);
    });

    test('a login route counts failed passwords per username, whatever the address', async () => {
      const server = app.getHttpServer();
      for (let i = 0; i < 3; i++) await request(server).post('/login').send({ username: 'daniel', password: 'guess' }).expect(401);
      const locked = await request(server).post('/login').send({ username: 'daniel', password: 'secret' }).expect(429);
      expect(locked.headers['retry-after']).toBe('300');
      await request(server).post('/login').send({ username: 'cody', password: 'guess' }).expect(401);
      await request(server).post('/login').send({ username: 'cody', password: 'secret' }).expect(200);
      // A success forgets the failures.
      expect((await app.get(ThrottlingService).peek({ identity: 'cody' }, LoginThrottle)).count).toBe(0);
    });

    test('check() against a named rate returns a decision object instead of throwing', async () => {
      const service = app.get(ThrottlingService);
      const who = { identity: 'phone:+15550100' };
      expect((await service.check(who, { scope: 'otp' })).allowed).toBe(true);
      expect((await service.check(who, { scope: 'otp', rate: '2/min' })).allowed).toBe(true);
      const third = await service.check(who, { scope: 'otp' });
      expect(third).toMatchObject({ allowed: false, retryAfter: 60 });
      await expect(service.enforce(who, { scope: 'otp' })).rejects.toMatchObject({ status: 429 });
      await service.reset(who, { scope: 'otp' });
      expect((await service.check(who, { scope: 'otp' })).allowed).toBe(true);
      await expect(service.check(who, { scope: 'nope' })).rejects.toThrow(/scope 'nope', which has no rate/);
    });
  });
});

describe('boot-time checks', () => {
  test('forRootAsync with recording defaultThrottles and no recordAccesses flag fails the boot, naming the fix', async () => {
    const error = await bootError(AsyncDefaultsWithoutFlagModule);
    expect(error?.message).toMatch(/defaultThrottles include CacheThrottle, which record accesses after the handler; pass recordAccesses: true to ThrottlingModule.forRootAsync\(\)/);
  });

  test('a class that is neither a DRF nor a Tastypie throttle is refused', async () => {
    class NotAThrottle {
      accessed() {}
    }
    @Controller('x')
    @ThrottleClasses(NotAThrottle as never)
    class XController {
      @Get() get() {}
    }
    @Module({ imports: [ThrottlingModule.forRoot()], controllers: [XController] })
    class XModule {}
    expect((await bootError(XModule))?.message).toMatch(/NotAThrottle is not a throttle class .*shouldBeThrottled\(identifier, ctx\) and accessed\(identifier, ctx\)/);
  });
});
