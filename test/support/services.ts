import { connect } from 'node:net';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A per-run suffix for key prefixes and schema names, so parallel runs never share state. */
export const RUN_ID = `${process.pid}_${Date.now().toString(36)}`;

/** Whether a TCP port answers within the timeout. */
export function reachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Decides whether a suite that needs a real service runs. Outside CI an unreachable service skips
 * the suite with a one-line reason; under CI=true it is an error, so CI never passes by skipping.
 * Use with top-level await: `const runs = await serviceAvailable('Redis', REDIS_URL);`
 */
export async function serviceAvailable(name: string, url: string): Promise<boolean> {
  if (await reachable(url)) return true;
  const reason = `${name} is not reachable at ${url}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: a suite that needs it must not be skipped)`);
  process.stderr.write(`skipping: ${reason}; start it to run these tests\n`);
  return false;
}
