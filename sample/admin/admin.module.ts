import { Module } from '@nestjs/common';
import { ThrottlingAdminController } from './throttling-admin.controller.js';

@Module({ controllers: [ThrottlingAdminController] })
export class AdminModule {}
