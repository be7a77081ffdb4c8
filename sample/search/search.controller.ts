import { BadRequestException, Controller, Get, Query, Req, Res } from '@nestjs/common';
import { CacheThrottle, ThrottleClasses, ThrottlingService } from '../../lib/index.js';
import { Shows } from '../routes/shows.decorator.js';

const NOTES = ['Buy milk', 'Call the plumber', 'Book flights to Lisbon', 'Renew passport', 'Buy birthday present'];

/** 30 searches a minute per user (or address), counted only when a search succeeds. */
export const SearchThrottle = CacheThrottle.with({ throttleAt: 30, timeframe: 60, scope: 'search' });

/**
 * Tastypie's "Usage with Resource": a custom search view that calls throttle_check and
 * log_throttled_access by hand. The route opts out of the guard's throttles (@ThrottleClasses())
 * and throttles itself, so a malformed search is answered but never counted.
 *
 *   curl -i 'http://127.0.0.1:3000/notes/search?q=buy'
 */
@Controller('notes')
@ThrottleClasses()
export class SearchController {
  constructor(private readonly throttling: ThrottlingService) {}

  @Get('search')
  @Shows('throttled by hand with ThrottlingService (Tastypie): a failed search is not counted; try ?q=buy')
  async search(@Req() request: unknown, @Res({ passthrough: true }) response: unknown, @Query('q') q?: string, @Query('page') page = '1') {
    await this.throttling.enforce(request as object, SearchThrottle, { response }); // throttle_check
    const pageNumber = Number(page);
    if (!q || !Number.isInteger(pageNumber) || pageNumber < 1) throw new BadRequestException('give q=<words> and an optional page=<n >= 1>');
    const matches = NOTES.filter((note) => note.toLowerCase().includes(q.toLowerCase()));
    const objects = matches.slice((pageNumber - 1) * 20, pageNumber * 20);
    await this.throttling.accessed(request as object, SearchThrottle); // log_throttled_access
    return { objects, page: pageNumber, total: matches.length };
  }
}
