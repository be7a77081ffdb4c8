/** Where flatKey() puts the character it reads: a store the optimizing compiler cannot drop with the read. */
const sink = { code: 0 };

/**
 * The key, made flat before a store keeps it. V8 keeps a concatenated string (`throttle_user_${id}`)
 * as a rope: a 32-byte node over its parts. Reading a character flattens it in place, and the
 * garbage collector then points every holder at the flat copy and drops the rope: about 15 B less
 * per kept key. Called once per new key, never on a key already held.
 */
export function flatKey(key: string): string {
  sink.code = key.charCodeAt(0);
  return key;
}
