import { Body, Controller, Get, Post } from '@nestjs/common';
import { ScopedThrottle, ThrottleClasses, ThrottleScope, UserThrottle } from '../../lib/index.js';
import { Shows } from '../routes/shows.decorator.js';

/** A burst limit and a sustained limit on the same route: both are checked on every request. */
export const BurstThrottle = UserThrottle.with({ scope: 'burst' });
export const SustainedThrottle = UserThrottle.with({ scope: 'sustained' });

interface Contact {
  name: string;
  email: string;
}

@Controller('contacts')
export class ContactsController {
  private readonly contacts: Contact[] = [{ name: 'Ada Lovelace', email: 'ada@example.com' }];

  /** Default throttles: anon 20/min, user 60/min. */
  @Get()
  @Shows('the default throttles: anonymous clients by address, signed-in users by id')
  list(): Contact[] {
    return this.contacts;
  }

  /** Uploads are expensive: 5 a minute per client, whoever they are. */
  @Post('upload')
  @Shows('a scope of its own (ScopedThrottle): 5 a minute, shared with the GraphQL importNotes')
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  upload(@Body() body: Partial<Contact>): { imported: number } {
    if (typeof body?.name === 'string' && typeof body?.email === 'string') this.contacts.push({ name: body.name, email: body.email });
    return { imported: this.contacts.length };
  }

  /** Exports: at most 10 a minute and 200 a day. */
  @Get('export')
  @Shows('two limits on one route, a burst and a sustained one: both are checked')
  @ThrottleClasses(BurstThrottle, SustainedThrottle)
  export(): { csv: string } {
    return { csv: this.contacts.map((contact) => `${contact.name},${contact.email}`).join('\n') };
  }
}
