/**
 * Counts the writes a client's socket hands to the operating system from now on: net.Socket sends
 * one chunk through `_write` and several held-back chunks through one `_writev`, so each call is one
 * system call. Returns a function that reads the count.
 */
export function countSocketWrites(stream: unknown): () => number {
  const socket = stream as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  let writes = 0;
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method];
    socket[method] = function (this: unknown, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
  }
  return () => writes;
}
