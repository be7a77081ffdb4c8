import { Controller, Get } from '@nestjs/common';
import { ThrottleClasses } from '../../lib/index.js';
import { PlanThrottle } from './plan.throttle.js';

@Controller('reports')
@ThrottleClasses(PlanThrottle)
export class ReportsController {
  @Get()
  report(): { rows: number } {
    return { rows: 42 };
  }
}
