import { createHash } from 'node:crypto';

/** Identities longer than this are hashed: no client may choose how large a key, or its memory, gets. */
export const MAX_KEY_PART_LENGTH = 64;

/** Returns the part unchanged when short, else a fixed-length digest of it. */
export function boundedKeyPart(part: string): string {
  if (part.length <= MAX_KEY_PART_LENGTH) return part;
  return `sha256:${createHash('sha256').update(part).digest('base64url')}`;
}
