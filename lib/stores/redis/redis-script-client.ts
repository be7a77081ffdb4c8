import { type Corkable, TurnWriteCoalescer } from './turn-write-coalescer.js';
import { describeValue } from '../../core/describe-value.js';

/**
 * The few commands the Redis store sends, over whichever client the app already has. Each adapter
 * is a thin translation of "EVALSHA sha keys args" into that client's calling convention.
 */
export interface RedisScriptClient {
  /** 'ioredis' (also iovalkey, which shares its API) or 'node-redis'. */
  readonly kind: 'ioredis' | 'node-redis';
  /** A Cluster client: keys of one script call must share a slot. */
  readonly cluster: boolean;
  evalsha(sha: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** Deletes keys of one slot (on a Cluster) in one DEL. */
  del(keys: readonly string[]): Promise<unknown>;
  /** Disconnects the client (only called when the store was told it owns it). */
  quit(): Promise<unknown>;
}

/** ioredis (Redis and Cluster) and iovalkey: `evalsha(sha, numKeys, ...keys, ...args)`. */
interface IoRedisLike {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  del(...keys: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
  defineCommand: unknown;
  isCluster?: boolean;
  /** A single-node client's socket (absent until it connects; replaced when it reconnects). */
  stream?: Corkable;
  /** A Cluster's node clients. */
  nodes?(role: 'all'): readonly { stream?: Corkable }[];
}

/** node-redis 4-6 (`redis`, `@redis/client`): createClient() and createCluster(). */
interface NodeRedisLike {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  del(keys: string[]): Promise<unknown>;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  masters?: unknown;
}

export interface RedisScriptClientOptions {
  /** Send the script calls of one event-loop turn in one socket write (see TurnWriteCoalescer). */
  readonly coalesceWrites: boolean;
}

/** Recognises the client by its API (not by class, so any installed version or fork works). */
export function adaptRedisClient(client: unknown, owner: string, options: RedisScriptClientOptions): RedisScriptClient {
  const candidate = client as Partial<IoRedisLike & NodeRedisLike> | null | undefined;
  if (candidate !== null && typeof candidate === 'object') {
    if (typeof candidate.evalsha === 'function' && typeof candidate.defineCommand === 'function') return ioRedisAdapter(candidate as IoRedisLike, options);
    if (typeof candidate.evalSha === 'function') return nodeRedisAdapter(candidate as NodeRedisLike);
  }
  const shown = candidate === null ? 'null' : typeof candidate === 'object' ? `an instance of ${candidate.constructor?.name ?? 'Object'}` : describeValue(candidate);
  throw new TypeError(`${owner} needs a Redis client (ioredis, iovalkey, or node-redis createClient()/createCluster()), got ${shown}`);
}

function ioRedisAdapter(client: IoRedisLike, options: RedisScriptClientOptions): RedisScriptClient {
  const cluster = client.isCluster === true;
  // A Cluster routes each call to the node that owns its slot: every node's socket is held for the turn.
  const sockets = cluster ? () => (client.nodes?.('all') ?? []).map((node) => node.stream) : () => [client.stream];
  const coalescer = options.coalesceWrites ? new TurnWriteCoalescer(sockets) : null;
  return {
    kind: 'ioredis',
    cluster,
    evalsha: (sha, keys, args) => {
      coalescer?.beforeWrite();
      return client.evalsha(sha, keys.length, ...keys, ...args);
    },
    eval: (script, keys, args) => {
      coalescer?.beforeWrite();
      return client.eval(script, keys.length, ...keys, ...args);
    },
    del: (keys) => client.del(...keys),
    quit: () => client.quit(),
  };
}

/** node-redis already writes the commands of one turn together (setImmediate and cork): nothing to add. */
function nodeRedisAdapter(client: NodeRedisLike): RedisScriptClient {
  return {
    kind: 'node-redis',
    cluster: client.masters !== undefined,
    evalsha: (sha, keys, args) => client.evalSha(sha, { keys: keys as string[], arguments: args as string[] }),
    eval: (script, keys, args) => client.eval(script, { keys: keys as string[], arguments: args as string[] }),
    del: (keys) => client.del(keys as string[]),
    // node-redis 5+ renamed quit() to close(); 4 only has quit().
    quit: () => (typeof client.close === 'function' ? client.close() : client.quit!()),
  };
}
