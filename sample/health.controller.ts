import { Controller, Get } from '@nestjs/common';
import { ThrottleClasses } from '../lib/index.js';
import { Shows } from './routes/shows.decorator.js';

@Controller('health')
@ThrottleClasses() // load balancers poll this: never throttled
export class HealthController {
  @Get()
  @Shows('throttling off (@ThrottleClasses())')
  health(): { status: string } {
    return { status: 'ok' };
  }
}
