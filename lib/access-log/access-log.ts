import type { Awaitable } from '../core/store.js';

/** One access, as Tastypie's ApiAccess model keeps it. */
export interface AccessEntry {
  /** Who accessed: a username, a user id or a client address. */
  readonly identifier: string;
  /** The full URL with its query string, never truncated. */
  readonly url: string;
  /** The lower-case request method (`get`, `post`, ...), or the transport's equivalent. */
  readonly method: string;
  /** When, in milliseconds since the epoch. */
  readonly accessedAt: number;
}

/** An access as read back from the log. */
export interface StoredAccess {
  readonly identifier: string;
  readonly url: string;
  readonly method: string;
  readonly accessedAt: Date;
}

/** Where CacheDBThrottle writes every access. PostgresAccessLog is the built-in one. */
export interface AccessLog {
  /**
   * Accepts an entry. Non-strict logs buffer it and return at once; a strict log returns a promise
   * that rejects when the entry could not be stored.
   */
  write(entry: AccessEntry): Awaitable<void>;
  /** Writes whatever is buffered now. */
  flush(): Promise<void>;
  /** Flushes and releases what the log owns (timers, its own connection pool). */
  close(): Promise<void>;
}

/** Raised (strict logs) when an access could not be stored, and (all logs) for bad settings. */
export class AccessLogError extends Error {
  override readonly name = 'AccessLogError';
}
