import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { RoutesController } from './routes.controller.js';

/** `GET /`: the list of the sample's routes. */
@Module({ imports: [DiscoveryModule], controllers: [RoutesController] })
export class RoutesModule {}
