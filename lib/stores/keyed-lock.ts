/**
 * Serializes work on the same keys within this process: a task waits for every earlier task that
 * holds any of its keys. Keys are taken all at once, so two tasks can never wait on each other.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const earlier: Promise<unknown>[] = [];
    for (const key of keys) {
      const tail = this.tails.get(key);
      if (tail !== undefined) earlier.push(tail);
    }
    const result = (earlier.length === 0 ? task() : Promise.allSettled(earlier).then(task));
    const done = result.then(noop, noop);
    for (const key of keys) this.tails.set(key, done);
    // Forget a key once its last task settled, so the map only holds keys in use.
    void done.then(() => {
      for (const key of keys) if (this.tails.get(key) === done) this.tails.delete(key);
    });
    return result;
  }
}

function noop(): void {}
