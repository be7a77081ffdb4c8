// `npm run bench:algorithms` (third part; also in `npm run bench`): this module against
// rate-limiter-flexible 11 wired as its README wires Nest (a global guard, here consuming from a
// minute and an hour limiter: bench/lib/compared-modules.mjs), the same two limits, side by side in
// one run on Fastify: on the memory store (bench/server.mjs, RateLimiterMemory) and on Redis
// (bench/redis-bench-server.mjs, RateLimiterRedis, on a redis-server this script starts for itself).
// This module runs with its default sliding log and with fixed windows, which is what
// rate-limiter-flexible counts. The schedule is bench/run.mjs's (bench/lib/server-rounds.mjs).
// Writes the "Against rate-limiter-flexible" section of bench/RESULTS.md (or BENCH_OUT).
//
// Knobs (environment): BENCH_DURATION (s, default 3), BENCH_WARMUP (s, default 3), BENCH_ROUNDS
// (default 3), BENCH_PROCESSES (default 3), BENCH_CONNECTIONS (default 50), BENCH_CLIENTS (default 10000).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limitRunTime } from './lib/child-processes.mjs';
import { describeSchedule, positiveNumber, scheduleKnobs } from './lib/env.mjs';
import { loadAverage, runFacts } from './lib/machine.mjs';
import { loadOnRedis } from './lib/redis-load.mjs';
import { startRedis } from './lib/redis-server.mjs';
import { FLEXIBLE_SECTION, writeSection } from './lib/results-file.mjs';
import { medianProcess, processSpread, serverRounds } from './lib/server-rounds.mjs';
import { sumOf } from './lib/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SCHEDULE = scheduleKnobs();
const CLIENTS = positiveNumber('BENCH_CLIENTS', 10_000);
limitRunTime('bench:versus-flexible', 15 * 60_000);
/** Limits no client reaches during a run: the allow path is measured, as in bench/run.mjs. */
const LIMITS = { minute: 100, hour: 1_000 };
/** Targets of issue 21, req/s of this module over rate-limiter-flexible's. */
const TARGETS = { memory: 1.2, redis: 1.5 };

const OURS = [
  { id: 'ours', label: 'nestjs-throttling, sliding log (default)' },
  { id: 'ours-fixed-window', label: "nestjs-throttling, `algorithm: 'fixed-window'`" },
];
const MEMORY_VARIANTS = [
  { id: 'none', label: 'no guard' },
  ...OURS.map((variant) => ({ ...variant, label: `${variant.label}, memory store` })),
  { id: 'rate-limiter-flexible', label: 'rate-limiter-flexible 11, RateLimiterMemory x 2 (RateLimiterUnion)' },
];
const REDIS_VARIANTS = [
  { id: 'none', label: 'no guard' },
  ...OURS.map((variant) => ({ ...variant, label: `${variant.label}, RedisThrottleStore (ioredis)` })),
  { id: 'rate-limiter-flexible', label: 'rate-limiter-flexible 11, RateLimiterRedis (ioredis) x 2 (RateLimiterUnion)' },
];

const count = (n) => Math.round(n).toLocaleString('en-US');
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

/**
 * The verdict on a req/s target, checked against the CPU ratio too: on a busy host req/s moves with
 * the host's load, CPU per request much less (README), so a target is met only when both say so.
 */
function verdict(target, byRps, byCpu) {
  if (byRps >= target && byCpu >= target) return 'met';
  if (byRps < target && byCpu < target) return 'missed';
  return `${byRps >= target ? 'met' : 'missed'} by req/s but ${byCpu >= target ? 'met' : 'missed'} by CPU per request, which moves less with the host's load`;
}

async function onMemory() {
  console.log(`\nMemory store: ${CLIENTS} clients`);
  const processes = await serverRounds({
    script: join(here, 'server.mjs'),
    variants: MEMORY_VARIANTS,
    argsOf: (variant) => [variant.id, JSON.stringify(LIMITS)],
    ...SCHEDULE,
    clients: CLIENTS,
  });
  const rows = MEMORY_VARIANTS.map((variant) => {
    const runs = processes.get(variant.id);
    return {
      variant,
      rps: medianProcess(runs, (run) => run.rps),
      cpu: medianProcess(runs, (run) => run.cpuPerRequest),
      failed: sumOf(runs.flat(), (run) => run.non2xx + run.errors + run.timeouts),
    };
  });
  const [none, theirs] = [rows[0], rows.at(-1)];
  const guardCpu = (row) => row.cpu.value - none.cpu.value;
  return [
    `### Memory store, ${CLIENTS.toLocaleString('en-US')} clients, ${LIMITS.minute}/min + ${count(LIMITS.hour)}/hour`,
    '',
    '| server | req/s (median process) | each process | vs rate-limiter-flexible | server CPU µs/req | the guard\'s CPU µs/req (over no guard) | non-2xx + errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.variant.label} | ${count(row.rps.value)} | ${row.rps.perProcess.map(count).join(', ')} | ${ratio(row.rps.value, theirs.rps.value)} | ` +
        `${row.cpu.value.toFixed(1)} | ${row === none ? '' : guardCpu(row).toFixed(1)} | ${row.failed} |`,
    ),
    '',
    ...rows.slice(1, -1).map(
      (row) =>
        `- ${row.variant.label}: ${ratio(row.rps.value, theirs.rps.value)} rate-limiter-flexible's req/s, ${ratio(theirs.cpu.value, row.cpu.value)} by CPU per request ` +
        `(target >= ${TARGETS.memory}x: ${verdict(TARGETS.memory, row.rps.value / theirs.rps.value, theirs.cpu.value / row.cpu.value)}).`,
    ),
    `- No guard at all measures ${ratio(none.rps.value, theirs.rps.value)} rate-limiter-flexible's req/s and ${ratio(theirs.cpu.value, none.cpu.value)} by CPU per request: the most any guard could reach here.`,
    `- Widest spread between processes of one server: ${Math.round(Math.max(...rows.map((row) => processSpread(row.cpu.perProcess))) * 100)}% in CPU per request.`,
    '',
  ].join('\n');
}

async function onRedis() {
  console.log(`\nRedis: ${CLIENTS} fresh clients per load`);
  const redis = await startRedis('bench:versus-flexible');
  let nextClient = 0;
  let processes;
  try {
    processes = await serverRounds({
      script: join(here, 'redis-bench-server.mjs'),
      variants: REDIS_VARIANTS,
      argsOf: (variant) => [variant.id, JSON.stringify(LIMITS), redis.url],
      ...SCHEDULE,
      measure: async (server, seconds) => {
        const run = await loadOnRedis({ server, admin: redis.admin, connections: SCHEDULE.connections, clients: CLIENTS, firstClient: nextClient, seconds });
        nextClient += CLIENTS;
        return run;
      },
      describe: (run) => `${(run.commands / run.handled).toFixed(3)} commands/req  ${run.appCpuUs.toFixed(1)} µs app CPU/req  ${run.redisCpuUs.toFixed(1)} µs Redis CPU/req  failed ${run.failed + run.denied}`,
    });
  } finally {
    redis.stop();
  }
  const rows = REDIS_VARIANTS.map((variant) => {
    const runs = processes.get(variant.id);
    const all = runs.flat();
    const app = medianProcess(runs, (run) => run.appCpuUs).value;
    const redisCpu = medianProcess(runs, (run) => run.redisCpuUs).value;
    return {
      variant,
      rps: medianProcess(runs, (run) => run.rps),
      app,
      redis: redisCpu,
      commands: sumOf(all, (run) => run.commands) / sumOf(all, (run) => run.handled),
      failed: sumOf(all, (run) => run.failed + run.denied),
    };
  });
  const [none, theirs] = [rows[0], rows.at(-1)];
  return [
    `### Redis, ${CLIENTS.toLocaleString('en-US')} fresh clients per load, ${LIMITS.minute}/min + ${count(LIMITS.hour)}/hour`,
    '',
    '| server | req/s (median process) | each process | vs rate-limiter-flexible | app CPU µs/req | Redis CPU µs/req | Redis commands sent / req | non-2xx + errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.variant.label} | ${count(row.rps.value)} | ${row.rps.perProcess.map(count).join(', ')} | ${ratio(row.rps.value, theirs.rps.value)} | ` +
        `${row.app.toFixed(1)} | ${row.redis.toFixed(1)} | ${row.commands.toFixed(3)} | ${row.failed} |`,
    ),
    '',
    ...rows.slice(1, -1).map(
      (row) =>
        `- ${row.variant.label}: ${ratio(row.rps.value, theirs.rps.value)} rate-limiter-flexible's req/s, ${ratio(theirs.app + theirs.redis, row.app + row.redis)} by app + Redis CPU per request ` +
        `(target >= ${TARGETS.redis}x: ${verdict(TARGETS.redis, row.rps.value / theirs.rps.value, (theirs.app + theirs.redis) / (row.app + row.redis))}); ${row.commands.toFixed(3)} Redis commands per request against ${theirs.commands.toFixed(3)} ` +
        `(fewer: ${row.commands < theirs.commands ? 'met' : 'missed'}).`,
    ),
    `- No guard at all (nothing sent to Redis) measures ${ratio(none.rps.value, theirs.rps.value)} rate-limiter-flexible's req/s and ${ratio(theirs.app + theirs.redis, none.app + none.redis)} by app + Redis CPU per request: the most any guard could reach here.`,
    '',
  ].join('\n');
}

const startedAt = new Date();
const startLoad = loadAverage();
const memoryTable = await onMemory();
const redisTable = await onRedis();
writeSection(
  FLEXIBLE_SECTION,
  [
    '## Against rate-limiter-flexible',
    '',
    `Command: \`npm run bench:algorithms\` (this part: \`node bench/versus-flexible.mjs\`, also part of \`npm run bench\`), ${describeSchedule(SCHEDULE)}. ` +
      `Took ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s. rate-limiter-flexible's guard sets its README's headers (X-RateLimit-Limit, -Remaining, -Reset); ` +
      'this module its IETF RateLimit and RateLimit-Policy.',
    runFacts(startedAt, startLoad),
    '',
    memoryTable,
    redisTable,
  ].join('\n'),
);
process.exit(0);
