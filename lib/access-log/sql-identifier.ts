import { AccessLogError } from './access-log.js';
import { describeValue } from '../core/describe-value.js';

/** PostgreSQL keeps at most 63 bytes of an identifier; longer ones would be silently truncated. */
const MAX_IDENTIFIER_LENGTH = 63;
const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks a schema or table name given in configuration and returns it double-quoted. Only plain
 * names are accepted, so a name is never a way into the SQL text and never depends on case folding.
 */
export function quoteIdentifier(name: unknown, what: string): string {
  if (typeof name !== 'string' || !PLAIN_IDENTIFIER.test(name) || name.length > MAX_IDENTIFIER_LENGTH) {
    throw new AccessLogError(
      `PostgresAccessLog: ${what} must be a plain SQL name (letters, digits and _, not starting with a digit, at most ${MAX_IDENTIFIER_LENGTH} characters), got ${describeValue(name)}`,
    );
  }
  return `"${name}"`;
}

/** An index name derived from a table name, kept within the identifier limit. */
export function indexName(table: string, suffix: string): string {
  const room = MAX_IDENTIFIER_LENGTH - suffix.length - 1;
  return `"${table.slice(0, room)}_${suffix}"`;
}
