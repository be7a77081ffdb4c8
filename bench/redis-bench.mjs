// `npm run bench:redis` (and `npm run bench`, after bench/run.mjs): this module on the Redis store
// (2 throttles per request) against @nestjs/throttler 6.7 + @nest-lab/throttler-storage-redis with
// the same two limits, side by side in one run on Fastify, all on one redis-server this script starts
// for itself (loopback, free port, no persistence), so no other client's commands are counted. The
// schedule is bench/run.mjs's (bench/lib/server-rounds.mjs). Counts the Redis commands the app sends
// per request (INFO commandstats before and after each load) and the CPU of the app and of Redis.
// Then a flood from one client far over its limits, this module with and without its opt-in deny
// cache: Redis commands per denied request. Writes the "Redis store" section of bench/RESULTS.md (or BENCH_OUT).
//
// Knobs (environment): BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 5), BENCH_ROUNDS
// (default 3), BENCH_PROCESSES (default 3), BENCH_CONNECTIONS (default 50), BENCH_CLIENTS (default 10000).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limitRunTime } from './lib/child-processes.mjs';
import { describeSchedule, positiveNumber, scheduleKnobs } from './lib/env.mjs';
import { clientAddress } from './lib/load.mjs';
import { loadAverage, runFacts } from './lib/machine.mjs';
import { loadOnRedis } from './lib/redis-load.mjs';
import { startRedis } from './lib/redis-server.mjs';
import { REDIS_SECTION, writeSection } from './lib/results-file.mjs';
import { medianProcess, serverRounds } from './lib/server-rounds.mjs';
import { sumOf } from './lib/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SCHEDULE = scheduleKnobs({ duration: 5, warmup: 5 });
const CLIENTS = positiveNumber('BENCH_CLIENTS', 10_000);
limitRunTime('bench:redis', 12 * 60_000);
/** Limits no client reaches during a run: the allow path is measured, as in bench/run.mjs. */
const LIMITS = { minute: 100, hour: 1_000 };
/** The flood: one client sends everything, far over these, so nearly every request is denied. */
const FLOOD_LIMITS = { minute: 10, hour: 100 };
/** The flooding client: numbered past every fresh client the allow runs use. */
const FLOOD_CLIENT = 2 ** 24 - 1;

/** The servers of bench/redis-bench-server.mjs. */
const VARIANTS = [
  { id: 'ours', label: 'nestjs-throttling, RedisThrottleStore (ioredis), 2 throttles' },
  { id: 'ours-write-each', label: 'nestjs-throttling, same, `coalesceWrites: false`' },
  { id: 'nestjs-throttler', label: '@nestjs/throttler 6.7 + @nest-lab/throttler-storage-redis 1.2, 2 throttlers' },
];
const FLOOD_VARIANTS = [
  { id: 'ours', label: 'nestjs-throttling, RedisThrottleStore (ioredis), 2 throttles' },
  { id: 'ours-deny-cache', label: 'nestjs-throttling, same, `denyCache: true`' },
];

let nextClient = 0;
/** One load from CLIENTS fresh clients: none comes near its limits in the whole run. */
async function freshClientsLoad(server, admin, seconds) {
  const run = await loadOnRedis({ server, admin, connections: SCHEDULE.connections, clients: CLIENTS, firstClient: nextClient, seconds });
  nextClient += CLIENTS;
  return run;
}

/** One load from the one flooding client. */
function floodLoad(server, admin, seconds) {
  return loadOnRedis({ server, admin, connections: SCHEDULE.connections, clients: 1, firstClient: FLOOD_CLIENT, seconds });
}

const describeRun = (run) =>
  `${(run.commands / run.handled).toFixed(3)} commands/req  ${run.appCpuUs.toFixed(1)} µs app CPU/req  ${run.redisCpuUs.toFixed(1)} µs Redis CPU/req  denied ${run.denied}  failed ${run.failed}`;

/** Every variant's figures over its processes: median process for req/s and CPU, totals for commands. */
function summarize(variants, processes) {
  return new Map(
    variants.map((variant) => {
      const runs = processes.get(variant.id);
      const all = runs.flat();
      const app = medianProcess(runs, (run) => run.appCpuUs).value;
      const redisCpu = medianProcess(runs, (run) => run.redisCpuUs).value;
      const rps = medianProcess(runs, (run) => run.rps);
      const handled = sumOf(all, (run) => run.handled);
      const commands = sumOf(all, (run) => run.commands);
      const denied = sumOf(all, (run) => run.denied);
      return [variant.id, { variant, rps, app, redis: redisCpu, cpu: app + redisCpu, commands: commands / handled, deniedShare: denied / handled, perDenied: commands / Math.max(1, denied), failed: sumOf(all, (run) => run.failed) }];
    }),
  );
}

const startedAt = new Date();
const startLoad = loadAverage();
const redis = await startRedis('bench:redis');
let allowProcesses;
let floodProcesses;
try {
  console.log(`\nAllow path: ${CLIENTS} fresh clients per load`);
  allowProcesses = await serverRounds({
    script: join(here, 'redis-bench-server.mjs'),
    variants: VARIANTS,
    argsOf: (variant) => [variant.id, JSON.stringify(LIMITS), redis.url],
    ...SCHEDULE,
    measure: (server, seconds) => freshClientsLoad(server, redis.admin, seconds),
    describe: describeRun,
  });
  console.log(`\nFlood: one client (${clientAddress(FLOOD_CLIENT)}) over ${FLOOD_LIMITS.minute}/min + ${FLOOD_LIMITS.hour}/hour`);
  floodProcesses = await serverRounds({
    script: join(here, 'redis-bench-server.mjs'),
    variants: FLOOD_VARIANTS,
    argsOf: (variant) => [variant.id, JSON.stringify(FLOOD_LIMITS), redis.url],
    ...SCHEDULE,
    measure: (server, seconds) => floodLoad(server, redis.admin, seconds),
    describe: describeRun,
  });
} finally {
  redis.stop();
}

const rows = summarize(VARIANTS, allowProcesses);
const [ours, writeEach, theirs] = ['ours', 'ours-write-each', 'nestjs-throttler'].map((id) => rows.get(id));
const floodRows = summarize(FLOOD_VARIANTS, floodProcesses);
const [uncached, cached] = ['ours', 'ours-deny-cache'].map((id) => floodRows.get(id));
const count = (n) => Math.round(n).toLocaleString('en-US');
writeSection(
  REDIS_SECTION,
  [
    '## Redis store',
    '',
    `Command: \`npm run bench:redis\` (\`node bench/redis-bench.mjs\`, also part of \`npm run bench\`), ${describeSchedule(SCHEDULE)}. Took ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s.`,
    runFacts(startedAt, startLoad),
    '',
    `### Allow path: ${CLIENTS.toLocaleString('en-US')} fresh clients per load, limits ${LIMITS.minute}/min + ${LIMITS.hour.toLocaleString('en-US')}/hour`,
    '',
    '| server | req/s (median process) | each process | app CPU µs/req | Redis CPU µs/req | Redis commands sent / req | non-2xx + errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...rows.values()].map(
      (row) =>
        `| ${row.variant.label} | ${count(row.rps.value)} | ${row.rps.perProcess.map(count).join(', ')} | ` +
        `${row.app.toFixed(1)} | ${row.redis.toFixed(1)} | ${row.commands.toFixed(3)} | ${row.failed} |`,
    ),
    '',
    `- This module: ${(ours.rps.value / theirs.rps.value).toFixed(2)}x the other store by req/s, ${(theirs.cpu / ours.cpu).toFixed(2)}x by app + Redis CPU per request ` +
      `(target >= 1.5x); ${ours.commands.toFixed(3)} Redis commands per request against ${theirs.commands.toFixed(3)}.`,
    `- \`coalesceWrites\` (on by default) against writing each call at once: app CPU ${ours.app.toFixed(1)} vs ${writeEach.app.toFixed(1)} µs, ` +
      `Redis CPU ${ours.redis.toFixed(1)} vs ${writeEach.redis.toFixed(1)} µs per request, req/s ${(ours.rps.value / writeEach.rps.value).toFixed(2)}x.`,
    '',
    `### Flood: one client over ${FLOOD_LIMITS.minute}/min + ${FLOOD_LIMITS.hour}/hour, the deny cache off and on`,
    '',
    '| server | req/s (median process) | each process | app CPU µs/req | Redis CPU µs/req | denied | Redis commands sent / denied request | other non-2xx + errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...floodRows.values()].map(
      (row) =>
        `| ${row.variant.label} | ${count(row.rps.value)} | ${row.rps.perProcess.map(count).join(', ')} | ` +
        `${row.app.toFixed(1)} | ${row.redis.toFixed(1)} | ${(row.deniedShare * 100).toFixed(1)}% | ${row.perDenied.toFixed(4)} | ${row.failed} |`,
    ),
    '',
    `- \`denyCache: true\`: ${cached.perDenied.toFixed(4)} Redis commands per denied request against ${uncached.perDenied.toFixed(3)} without it; ` +
      `req/s ${(cached.rps.value / uncached.rps.value).toFixed(2)}x, app + Redis CPU per request ${(uncached.cpu / cached.cpu).toFixed(2)}x less.`,
    '',
  ].join('\n'),
);
process.exit(0);
