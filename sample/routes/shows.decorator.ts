import { DiscoveryService } from '@nestjs/core';

/** A few words on what a sample route shows; `GET /` lists them beside each route. */
export const Shows = DiscoveryService.createDecorator<string>();
