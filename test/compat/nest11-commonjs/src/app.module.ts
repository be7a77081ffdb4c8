// The module of a `nest new` app with throttling added as the README shows: what the app's own Jest
// specs (src/app.controller.spec.ts, test/app.e2e-spec.ts) load, through the package's CommonJS build.
import { Module } from '@nestjs/common';
import { AnonThrottle, ThrottlingModule } from 'nestjs-throttling';
import { AppController } from './app.controller';

@Module({
  imports: [ThrottlingModule.forRoot({ defaultThrottles: [AnonThrottle], rates: { anon: '3/min' } })],
  controllers: [AppController],
})
export class AppModule {}
