import { Module } from '@nestjs/common';
import { OperationsController } from './operations.controller.js';

/** Operations: a limit rolled out in shadow mode and the `/metrics` route. */
@Module({ controllers: [OperationsController] })
export class OperationsModule {}
