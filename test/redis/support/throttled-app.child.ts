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
import { AnonThrottle, CacheThrottle, RedisThrottleStore, ThrottleClasses, ThrottlingModule, ThrottlingService } from '../../../lib/index.js';

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
  controllers: [HelloController],
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
