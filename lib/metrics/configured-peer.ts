import { ThrottleConfigError } from '../core/throttle-config-error.js';
import { isPeerMissing } from '../nest/transports/optional-peer.js';

/**
 * Imports an optional peer that the app's configuration asks for (prom-client when
 * `metrics.prometheus` is set, ...): unlike an OptionalPeer, it is loaded only then, so an app
 * that configures no metrics loads nothing, and its absence is a configuration error naming the
 * package and the option, raised while the app boots. The CommonJS build compiles the import()
 * to require(), as for the other optional peers (optional-peer.ts).
 */
export async function importConfiguredPeer<T>(name: string, option: string, load: (name: string) => Promise<unknown> = (peer) => import(peer)): Promise<T> {
  let loaded: unknown;
  try {
    loaded = await load(name);
  } catch (error) {
    if (!isPeerMissing(error, name)) throw error;
    throw new ThrottleConfigError(`nestjs-throttling: ${option} is configured but ${name} is not installed; install it (npm install ${name}) or remove ${option}`);
  }
  return loaded as T;
}

/** A CommonJS package imported from ESM may come as its namespace or under `default`; `marker` is an export it must have. */
export function interopDefault<T extends object>(loaded: unknown, marker: keyof T & string): T {
  const namespace = loaded as Partial<T> & { default?: T };
  return (namespace[marker] !== undefined ? namespace : namespace.default ?? namespace) as T;
}

/** The loader createThrottlingMetrics() uses; tests pass their own. */
export type PeerImporter = <T>(name: string, option: string) => Promise<T>;
