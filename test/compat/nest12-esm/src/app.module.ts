// The module an ESM app's own Jest spec (test/app.e2e-spec.ts) loads, with throttling added as the
// README shows, through the package's ES module build.
import { Module } from '@nestjs/common';
import { AnonThrottle, ThrottlingModule } from 'nestjs-throttling';
import { AppController } from './app.controller.js';

@Module({
  imports: [ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle], rates: { anon: '3/min' } })],
  controllers: [AppController],
})
export class AppModule {}
