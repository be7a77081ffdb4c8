// A redis-server of the driver's own (loopback, free port, no persistence), so no other client's
// commands or keys are counted, and what it reports: CPU, commands sent, memory.
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { THROTTLE_SCRIPT_COMMANDS } from '../../dist/esm/stores/redis/throttle-script.js';
import { ownChild } from './child-processes.mjs';
import { freePort } from './free-port.mjs';

/**
 * Commands only Lua scripts call, inside Redis: this module's, @nest-lab/throttler-storage-redis's and
 * rate-limiter-flexible's (set NX, incrby, pttl, expire). Not on the wire, so not counted as sent.
 */
const SCRIPT_INTERNAL = new Set([...THROTTLE_SCRIPT_COMMANDS, 'incr', 'incrby', 'pexpire', 'expire', 'pttl', 'get', 'set', 'del', 'info']);

/** Starts redis-server (with `extraArgs`) and resolves with { url, admin (an ioredis client), stop() } once it answers. */
export async function startRedis(name, extraArgs = []) {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs];
  const child = ownChild(spawn('redis-server', args, { stdio: 'ignore' }));
  const failed = new Promise((_, reject) => child.once('error', (error) => reject(new Error(`${name}: cannot start redis-server (${error.message}); it must be on PATH`))));
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { retryStrategy: (times) => (times > 50 ? null : 100), maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  await Promise.race([admin.ping(), failed]);
  return {
    url,
    admin,
    stop() {
      admin.disconnect();
      child.kill('SIGKILL');
    },
  };
}

/** Redis's CPU time so far (µs) and the commands clients sent so far. */
export async function redisCounters(admin) {
  const [cpu, stats] = await Promise.all([admin.info('cpu'), admin.info('commandstats')]);
  const read = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  let commands = 0;
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!SCRIPT_INTERNAL.has(match[1])) commands += Number(match[2]);
  return { cpuMicros: (read('used_cpu_user') + read('used_cpu_sys')) * 1e6, commands };
}

/** The allocator's bytes in use (INFO memory used_memory). */
export async function usedMemory(admin) {
  return Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))[1]);
}
