// The child processes a benchmark driver starts (servers, redis-server), killed whatever way the
// driver ends, and a hard time limit on the whole driver, so no run outlives its budget.

const children = new Set();

/** Registers a child so it dies with the driver; returns it. */
export function ownChild(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killChildren() {
  for (const child of children) child.kill('SIGKILL');
}

/** Ends the driver (exit code 2) if it still runs after `limitMs`; Ctrl-C and SIGTERM end it too. */
export function limitRunTime(name, limitMs) {
  const hardStop = setTimeout(() => {
    console.error(`${name}: still running after ${limitMs / 60_000} minutes, giving up`);
    killChildren();
    process.exit(2);
  }, limitMs);
  hardStop.unref();
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
}
