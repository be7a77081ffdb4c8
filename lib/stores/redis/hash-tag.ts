/**
 * The part of a key Redis Cluster hashes to pick a slot: the text between the first '{' and the
 * next '}', when non-empty; otherwise the whole key (the Cluster specification's rule). Keys with
 * the same hash tag always share a slot, so one script may touch them all.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}
