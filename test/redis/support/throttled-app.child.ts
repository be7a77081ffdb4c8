// One app instance of a multi-process test, started with child_process.fork():
//   node --import ./test/redis/support/ts-register.mjs throttled-app.child.ts <json config>
// config: { redisUrl, keyPrefix, rate, platform: 'express' | 'fastify', clockOffsetMs }
// Listens on an ephemeral loopback port, sends { port } to the parent, exits on 'stop' or disconnect.
import 'reflect-metadata';
import { Controller, Get, Headers, Module, UnauthorizedException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { AnonThrottle, CacheThrottle, RedisThrottleStore, ThrottleClasses, ThrottleCost, ThrottlingModule, ThrottlingService } from '../../../lib/index.js';

interface ChildConfig {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly rate: string;
  readonly platform: 'express' | 'fastify';
  /** This instance's clock runs this far from the real one: the store must not care. */
  readonly clockOffsetMs: number;
  /** The module's storeTimeout; 'default' leaves it (and onStoreError) to the module's defaults. Default 5000. */
  readonly storeTimeout?: number | 'default';
}

const config = JSON.parse(process.argv[2]) as ChildConfig;
const redis = new Redis(config.redisUrl);

@Controller()
class HelloController {
  constructor(private readonly throttling: ThrottlingService) {}

  @Get('hello')
  hello() {
    return { pid: process.pid };
  }

  /** A login whose every password is wrong: 401 when the password was checked, 429 when the attempt was refused. */
  @Get('login')
  @ThrottleClasses()
  async login(@Headers('x-login-user') username: string) {
    const attempt = await this.throttling.attempt({ identity: username }, LoginThrottle);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await attempt.commit();
    throw new UnauthorizedException('wrong username or password');
  }
}

const LoginThrottle = CacheThrottle.with({ throttleAt: 5, timeframe: 900, scope: 'login' });

// One throttle per counter algorithm at 100/hour (fixed-window per day: a window boundary during the test is then unlikely).
const GcraThrottle = AnonThrottle.with({ scope: 'gcra', rate: '100/hour', algorithm: 'gcra' });
const SlidingWindowThrottle = AnonThrottle.with({ scope: 'sliding', rate: '100/hour', algorithm: 'sliding-window' });
const FixedWindowThrottle = AnonThrottle.with({ scope: 'fixed', rate: '100/day', algorithm: 'fixed-window' });
// A costly route under two throttles: 10 units a request, 100/hour and 55/hour, so the second admits 5.
const CostlyWide = AnonThrottle.with({ scope: 'costly-wide', rate: '100/hour', algorithm: 'sliding-window' });
const CostlyNarrow = AnonThrottle.with({ scope: 'costly-narrow', rate: '55/hour', algorithm: 'gcra' });
const BlockingThrottle = AnonThrottle.with({ scope: 'blocking', rate: '5/min', blockFor: 600 });

@Controller('algorithms')
class AlgorithmsController {
  constructor(private readonly throttling: ThrottlingService) {}

  @Get('gcra')
  @ThrottleClasses(GcraThrottle)
  gcra() {
    return { pid: process.pid };
  }

  @Get('sliding-window')
  @ThrottleClasses(SlidingWindowThrottle)
  slidingWindow() {
    return { pid: process.pid };
  }

  @Get('fixed-window')
  @ThrottleClasses(FixedWindowThrottle)
  fixedWindow() {
    return { pid: process.pid };
  }

  @Get('costly')
  @ThrottleCost(10)
  @ThrottleClasses(CostlyWide, CostlyNarrow)
  costly() {
    return { pid: process.pid };
  }

  /** What the costly route's wider throttle has counted for a client. */
  @Get('costly-usage')
  @ThrottleClasses()
  async costlyUsage(@Headers('x-client') client: string) {
    const state = await this.throttling.peek({ identity: client }, CostlyWide);
    return { count: state.count, remaining: state.remaining };
  }

  @Get('blocking')
  @ThrottleClasses(BlockingThrottle)
  blocking() {
    return { pid: process.pid };
  }
}

@Module({
  imports: [
    ThrottlingModule.forRoot({
      defaultThrottles: [AnonThrottle],
      rates: { anon: config.rate },
      // The test names its client in X-Forwarded-For, so two tests on the same processes never share a bucket.
      numProxies: 1,
      store: new RedisThrottleStore(redis, { keyPrefix: config.keyPrefix }),
      clock: () => Date.now() + config.clockOffsetMs,
      // The test pins Redis's atomicity, not the timeout: 2,000 requests on a loaded 2-core machine can
      // starve Redis itself for more than the default 100 ms, and then 'local' fallbacks admit more
      // (up to (N + 1) x the limit, as the README says).
      ...(config.storeTimeout === 'default' ? {} : { storeTimeout: config.storeTimeout ?? 5000 }),
    }),
  ],
  controllers: [HelloController, AlgorithmsController],
})
class ChildAppModule {}

const app = await NestFactory.create(ChildAppModule, config.platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(), { logger: false });
await app.listen(0, '127.0.0.1');
const address = app.getHttpServer().address() as { port: number };
process.send!({ port: address.port });

const stop = async () => {
  await app.close();
  redis.disconnect();
  process.exit(0);
};
process.on('message', (message) => message === 'stop' && void stop());
process.on('disconnect', () => void stop());
