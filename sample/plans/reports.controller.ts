import { Controller, Get } from '@nestjs/common';
import { ThrottleClasses } from '../../lib/index.js';
import { PlanThrottle } from './plan.throttle.js';
import { Shows } from '../routes/shows.decorator.js';

@Controller('reports')
@ThrottleClasses(PlanThrottle)
export class ReportsController {
  @Get()
  @Shows("a custom throttle with an injected service: the user's plan sets the rate")
  report(): { rows: number } {
    return { rows: 42 };
  }
}
