// `npm run bench:redis` (and `npm run bench`, after bench/run.mjs): this module on the Redis store
// (2 throttles per request) against @nestjs/throttler 6.7 + @nest-lab/throttler-storage-redis with
// the same two limits, side by side in one run on Fastify, all on one redis-server this script starts
// for itself (loopback, free port, no persistence), so no other client's commands are counted. The
// schedule is bench/run.mjs's (bench/lib/server-rounds.mjs). Counts the Redis commands the app sends
// per request (INFO commandstats before and after each load) and the CPU of the app and of Redis.
// Writes the "Redis store" section of bench/RESULTS.md (or BENCH_OUT).
//
// Knobs (environment): BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 5), BENCH_ROUNDS
// (default 3), BENCH_PROCESSES (default 3), BENCH_CONNECTIONS (default 50), BENCH_CLIENTS (default 10000).
import { Redis } from 'ioredis';
import { THROTTLE_SCRIPT_COMMANDS } from '../dist/esm/stores/redis/throttle-script.js';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limitRunTime, ownChild } from './lib/child-processes.mjs';
import { describeSchedule, positiveNumber, scheduleKnobs } from './lib/env.mjs';
import { freePort } from './lib/free-port.mjs';
import { loadClients } from './lib/load.mjs';
import { loadAverage, runFacts } from './lib/machine.mjs';
import { REDIS_SECTION, writeSection } from './lib/results-file.mjs';
import { serverStats } from './lib/server-process.mjs';
import { medianProcess, serverRounds } from './lib/server-rounds.mjs';
import { sumOf } from './lib/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SCHEDULE = scheduleKnobs({ duration: 5, warmup: 5 });
const CLIENTS = positiveNumber('BENCH_CLIENTS', 10_000);
limitRunTime('bench:redis', 12 * 60_000);
/** Limits no client reaches during a run: the allow path is measured, as in bench/run.mjs. */
const LIMITS = { minute: 100, hour: 1_000 };

/** The servers of bench/redis-bench-server.mjs. */
const VARIANTS = [
  { id: 'ours', label: 'nestjs-throttling, RedisThrottleStore (ioredis), 2 throttles' },
  { id: 'ours-write-each', label: 'nestjs-throttling, same, `coalesceWrites: false`' },
  { id: 'nestjs-throttler', label: '@nestjs/throttler 6.7 + @nest-lab/throttler-storage-redis 1.2, 2 throttlers' },
];

/** Commands only the Lua scripts call, inside Redis (ours and theirs): not on the wire, so not counted. */
const SCRIPT_INTERNAL = new Set([...THROTTLE_SCRIPT_COMMANDS, 'incr', 'pexpire', 'pttl', 'get', 'set', 'del', 'info']);

async function startRedis() {
  const port = await freePort();
  const child = ownChild(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
  const failed = new Promise((_, reject) => child.once('error', (error) => reject(new Error(`bench:redis: cannot start redis-server (${error.message}); it must be on PATH`))));
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { retryStrategy: (times) => (times > 50 ? null : 100), maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  await Promise.race([admin.ping(), failed]);
  return { url, admin, child };
}

/** Redis's CPU time so far (µs) and the commands clients sent so far. */
async function redisCounters(admin) {
  const [cpu, stats] = await Promise.all([admin.info('cpu'), admin.info('commandstats')]);
  const read = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  let commands = 0;
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!SCRIPT_INTERNAL.has(match[1])) commands += Number(match[2]);
  return { cpuMicros: (read('used_cpu_user') + read('used_cpu_sys')) * 1e6, commands };
}

let nextClient = 0;
/** One load from CLIENTS fresh clients (none comes near its limits in the whole run), divided by the requests the app received. */
async function load(server, admin, seconds) {
  const [appBefore, redisBefore] = [await serverStats(server), await redisCounters(admin)];
  const result = await loadClients({ port: server.port, connections: SCHEDULE.connections, clients: CLIENTS, seconds, firstClient: nextClient });
  nextClient += CLIENTS;
  // Let the requests still in flight when the load stopped finish, then read both sides.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [appAfter, redisAfter] = [await serverStats(server), await redisCounters(admin)];
  const handled = Math.max(1, appAfter.handled - appBefore.handled);
  return {
    rps: result.requests.average,
    handled,
    failed: result.non2xx + result.errors + result.timeouts,
    commands: redisAfter.commands - redisBefore.commands,
    appCpuUs: (appAfter.cpuMicros - appBefore.cpuMicros) / handled,
    redisCpuUs: (redisAfter.cpuMicros - redisBefore.cpuMicros) / handled,
  };
}

const startedAt = new Date();
const startLoad = loadAverage();
const redis = await startRedis();
let processes;
try {
  processes = await serverRounds({
    script: join(here, 'redis-bench-server.mjs'),
    variants: VARIANTS,
    argsOf: (variant) => [variant.id, JSON.stringify(LIMITS), redis.url],
    ...SCHEDULE,
    measure: (server, seconds) => load(server, redis.admin, seconds),
    describe: (run) => `${(run.commands / run.handled).toFixed(3)} commands/req  ${run.appCpuUs.toFixed(1)} µs app CPU/req  ${run.redisCpuUs.toFixed(1)} µs Redis CPU/req  failed ${run.failed}`,
  });
} finally {
  redis.admin.disconnect();
  redis.child.kill('SIGKILL');
}

const rows = new Map(
  VARIANTS.map((variant) => {
    const runs = processes.get(variant.id);
    const all = runs.flat();
    const app = medianProcess(runs, (run) => run.appCpuUs).value;
    const redisCpu = medianProcess(runs, (run) => run.redisCpuUs).value;
    const rps = medianProcess(runs, (run) => run.rps);
    const commands = sumOf(all, (run) => run.commands) / sumOf(all, (run) => run.handled);
    return [variant.id, { variant, rps, app, redis: redisCpu, cpu: app + redisCpu, commands, failed: sumOf(all, (run) => run.failed) }];
  }),
);
const [ours, writeEach, theirs] = ['ours', 'ours-write-each', 'nestjs-throttler'].map((id) => rows.get(id));
writeSection(
  REDIS_SECTION,
  [
    '## Redis store',
    '',
    `Command: \`npm run bench:redis\` (\`node bench/redis-bench.mjs\`, also part of \`npm run bench\`), ${describeSchedule(SCHEDULE)}, ` +
      `${CLIENTS.toLocaleString('en-US')} fresh clients per load, ` +
      `limits ${LIMITS.minute}/min + ${LIMITS.hour.toLocaleString('en-US')}/hour. Took ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s.`,
    runFacts(startedAt, startLoad),
    '',
    '| server | req/s (median process) | each process | app CPU µs/req | Redis CPU µs/req | Redis commands sent / req | non-2xx + errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...rows.values()].map(
      (row) =>
        `| ${row.variant.label} | ${Math.round(row.rps.value).toLocaleString('en-US')} | ${row.rps.perProcess.map((rps) => Math.round(rps).toLocaleString('en-US')).join(', ')} | ` +
        `${row.app.toFixed(1)} | ${row.redis.toFixed(1)} | ${row.commands.toFixed(3)} | ${row.failed} |`,
    ),
    '',
    `- This module: ${(ours.rps.value / theirs.rps.value).toFixed(2)}x the other store by req/s, ${(theirs.cpu / ours.cpu).toFixed(2)}x by app + Redis CPU per request ` +
      `(target >= 1.5x); ${ours.commands.toFixed(3)} Redis commands per request against ${theirs.commands.toFixed(3)}.`,
    `- \`coalesceWrites\` (on by default) against writing each call at once: app CPU ${ours.app.toFixed(1)} vs ${writeEach.app.toFixed(1)} µs, ` +
      `Redis CPU ${ours.redis.toFixed(1)} vs ${writeEach.redis.toFixed(1)} µs per request, req/s ${(ours.rps.value / writeEach.rps.value).toFixed(2)}x.`,
    '',
  ].join('\n'),
);
process.exit(0);
