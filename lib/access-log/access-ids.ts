import { randomBytes } from 'node:crypto';

/**
 * Ids that make an access row's INSERT idempotent: a retried batch (its reply lost after the commit)
 * inserts nothing twice. Taking an id costs a request one increment; the UUID text is made when the
 * batch is written. An id is a version-8 UUID: 60 random bits per log instance, then a counter.
 */
export class AccessIds {
  /** `xxxxxxxx-xxxx-8xxx-`: the instance's random half, version nibble set. */
  private readonly prefix: string;
  private next = 0;

  constructor() {
    const bytes = randomBytes(8);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    const hex = bytes.toString('hex');
    this.prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-`;
  }

  /** A number unique within this instance (below 2^53: a million ids a second for 285 years). */
  take(): number {
    return this.next++;
  }

  /** The UUID of a taken number; its first nibble (always 0 below 2^53) carries the variant bits. */
  uuid(taken: number): string {
    const hex = taken.toString(16).padStart(16, '0');
    return `${this.prefix}8${hex.slice(1, 4)}-${hex.slice(4)}`;
  }
}
