import { Controller, Get } from '@nestjs/common';
import { ThrottleClasses } from '../lib/index.js';

@Controller('health')
@ThrottleClasses() // load balancers poll this: never throttled
export class HealthController {
  @Get()
  health(): { status: string } {
    return { status: 'ok' };
  }
}
