/**
 * An optional peer package (e.g. @nestjs/websockets): used when the app has it installed, so apps
 * without WebSockets or microservices need neither.
 *
 * Loaded by `loadOptionalPeers()`, which ThrottlingModule awaits while the app boots, and not by a
 * top-level await: a module graph with one cannot be `require()`d, and CommonJS apps (Nest 11's
 * default) load this library with `require()`.
 */
export class OptionalPeer<T> {
  private state: 'unloaded' | 'installed' | 'missing' = 'unloaded';
  private exports: T | undefined;
  private loading: Promise<void> | undefined;

  constructor(readonly name: string) {
    everyPeer.push(this);
  }

  /**
   * Imports the package once; a package that is not installed is not an error. The CommonJS build
   * (tsconfig.build.cjs.json) compiles this import() to require(): Jest's CommonJS runtime, which
   * Nest 11 apps test with, cannot run a real dynamic import().
   */
  load(): Promise<void> {
    this.loading ??= import(this.name).then(
      (exports: T) => {
        this.exports = exports;
        this.state = 'installed';
      },
      (error: unknown) => {
        if (!isPeerMissing(error, this.name)) throw error;
        this.state = 'missing';
      },
    );
    return this.loading;
  }

  /** The package's exports, or undefined when it is not installed. */
  get(): T | undefined {
    if (this.state === 'unloaded') {
      throw new Error(`nestjs-throttling: ${this.name} was used before it was loaded; ThrottlingModule loads it while the app boots`);
    }
    return this.exports;
  }

  /** The package's exports, for work that cannot be done without it: `whatNeedsIt` names that work in the error. */
  require(whatNeedsIt: string): T {
    const exports = this.get();
    if (exports === undefined) throw new Error(`nestjs-throttling: ${whatNeedsIt} but ${this.name} is not installed`);
    return exports;
  }
}

const everyPeer: OptionalPeer<unknown>[] = [];

/**
 * Whether an import failed because the package itself is not installed. Node says
 * ERR_MODULE_NOT_FOUND and Jest's module loader MODULE_NOT_FOUND, each quoting the name; Yarn Plug'n'Play
 * adds a `pnpCode` and names the request in `data.request`. The failure must be about this package:
 * a dependency missing inside an installed peer is a broken install, not an absent peer.
 */
export function isPeerMissing(error: unknown, name: string): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, message, pnpCode, data } = error as { code?: unknown; message?: unknown; pnpCode?: unknown; data?: { request?: unknown } };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  if (typeof pnpCode === 'string') return data?.request === name;
  return typeof message === 'string' && message.includes(`'${name}'`);
}

/** Loads every optional peer this library knows of (idempotent); fails with the first failure, once all have settled. */
export async function loadOptionalPeers(): Promise<void> {
  const outcomes = await Promise.allSettled(everyPeer.map((peer) => peer.load()));
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
