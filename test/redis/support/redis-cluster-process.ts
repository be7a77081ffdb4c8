import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { RedisServerProcess } from './redis-server-process.js';

const run = promisify(execFile);

/**
 * A Redis Cluster of three masters on free loopback ports, started as child processes (no
 * persistence, config files in a temporary directory) and torn down by stop().
 */
export class RedisClusterProcess {
  private constructor(
    readonly nodes: readonly RedisServerProcess[],
    private readonly directory: string,
  ) {}

  static async start(masters = 3): Promise<RedisClusterProcess> {
    const directory = await mkdtemp(join(tmpdir(), 'throttle-cluster-'));
    const nodes: RedisServerProcess[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        nodes.push(await RedisServerProcess.start(['--cluster-enabled', 'yes', '--cluster-config-file', join(directory, 'nodes-{port}.conf'), '--cluster-node-timeout', '2000']));
      }
      const cluster = new RedisClusterProcess(nodes, directory);
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
      await cluster.waitUntilReady();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
  }

  get rootNodes(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    await rm(this.directory, { recursive: true, force: true });
  }

  /** Every node reports cluster_state:ok (bounded: 15 s). */
  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(this.nodes.map((node) => clusterState(node.port)));
      if (states.every((state) => state === 'ok')) return;
      if (Date.now() > deadline) throw new Error(`the cluster did not become ready within 15 s (states: ${states.join(', ')})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function clusterState(port: number): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    const info = await redis.cluster('INFO');
    return /cluster_state:(\w+)/.exec(String(info))?.[1] ?? 'unknown';
  } catch {
    return 'unreachable';
  } finally {
    redis.disconnect();
  }
}
