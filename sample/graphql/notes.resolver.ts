import { Args, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { ScopedThrottle, ThrottleClasses, ThrottleScope } from '../../lib/index.js';
import { Note } from './note.model.js';
import { Shows } from '../routes/shows.decorator.js';

/**
 * GraphQL goes through the same global guard: every query or mutation is one request (however many
 * root fields it asks for), counted by the default throttles (anon 20/min, user 60/min).
 * A throttled operation answers `errors[0].extensions = { code: 'TOO_MANY_REQUESTS', retryAfter }`.
 */
@Resolver(() => Note)
export class NotesResolver {
  private readonly saved: Note[] = [{ id: '1', text: 'Call Ada about the engine' }];

  @Query(() => [Note])
  @Shows('one operation counts once, however many root fields it asks for')
  notes(): Note[] {
    return this.saved;
  }

  @Mutation(() => Note)
  @Shows('a mutation on the default throttles, like any operation')
  addNote(@Args('text') text: string): Note {
    const note = { id: String(this.saved.length + 1), text };
    this.saved.push(note);
    return note;
  }

  /** Imports share the `uploads` bucket with POST /contacts/upload: 5 a minute. */
  @Mutation(() => Int)
  @Shows("shares the 'uploads' bucket with POST /contacts/upload")
  @ThrottleClasses(ScopedThrottle)
  @ThrottleScope('uploads')
  importNotes(@Args({ name: 'texts', type: () => [String] }) texts: string[]): number {
    for (const text of texts) this.addNote(text);
    return this.saved.length;
  }

  /** A field resolver is part of its operation, never a request of its own. */
  @ResolveField(() => Int)
  length(@Parent() note: Note): number {
    return note.text.length;
  }
}
