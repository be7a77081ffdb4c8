import { Module } from '@nestjs/common';
import { PlansService } from './plans.service.js';
import { ReportsController } from './reports.controller.js';

// PlanThrottle is not listed: the throttling module creates it here, injecting PlansService.
@Module({ providers: [PlansService], controllers: [ReportsController] })
export class PlansModule {}
