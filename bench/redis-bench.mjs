// `npm run bench:redis`: this module on the Redis store (2 throttles per request) against
// @nestjs/throttler 6.7 + @nest-lab/throttler-storage-redis (the same two limits), side by side in
// one run on Fastify, loaded one at a time by autocannon. Like bench/run.mjs it starts PROCESSES
// processes of every server, all on the same redis-server, and takes rounds turn about over all of
// them: a process's figure is its median round, a variant's its median process, since one process
// of a server can run 20-30% slower than another for its whole life on these machines. Counts the
// Redis commands the app sends per request with INFO commandstats before and after each load, on a
// redis-server this script starts for itself (loopback, free port, no persistence), so no other
// client's commands are counted. `npm run bench` runs it after bench/run.mjs. Writes the "Redis store"
// section of bench/RESULTS.md (or BENCH_OUT), replacing the one there and leaving the rest as it is.
//
// Knobs (environment): BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 5),
// BENCH_ROUNDS (default 3), BENCH_PROCESSES (default 3), BENCH_CONNECTIONS (default 50),
// BENCH_CLIENTS (default 10000), BENCH_OUT (the results file, default bench/RESULTS.md).
import { Redis } from 'ioredis';
import { THROTTLE_SCRIPT_COMMANDS } from '../dist/esm/stores/redis/throttle-script.js';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limitRunTime, ownChild } from './lib/child-processes.mjs';
import { freePort } from './lib/free-port.mjs';
import { REDIS_LIMITS, REDIS_VARIANTS } from './lib/redis-variants.mjs';
import { positiveInteger, positiveNumber } from './lib/env.mjs';
import { readWriteSyscalls } from './lib/proc-io.mjs';
import { loadClients } from './lib/load.mjs';
import { loadAverage, machineFacts } from './lib/machine.mjs';
import { REDIS_SECTION, resultsPath, writeSection } from './lib/results-file.mjs';
import { medianProcess, processInstances, rotatingRounds, roundsByProcess } from './lib/rounds.mjs';
import { serverStats, startServer, stopServer } from './lib/server-process.mjs';
import { sumOf } from './lib/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const DURATION = positiveNumber('BENCH_DURATION', 5);
const WARMUP = positiveNumber('BENCH_WARMUP', 5);
const ROUNDS = positiveInteger('BENCH_ROUNDS', 3);
const PROCESSES = positiveInteger('BENCH_PROCESSES', 3);
const CONNECTIONS = positiveNumber('BENCH_CONNECTIONS', 50);
const CLIENTS = positiveNumber('BENCH_CLIENTS', 10_000);
limitRunTime('bench:redis', 12 * 60_000);
const LIMITS = REDIS_LIMITS;

const VARIANTS = REDIS_VARIANTS;

/**
 * Commands that only the Lua scripts call, inside Redis: commandstats counts them, but no client
 * sends them (ours: the sliding-log script; theirs: the fixed-window script). Everything else was a
 * command on the wire.
 */
const SCRIPT_INTERNAL = new Set([
  ...THROTTLE_SCRIPT_COMMANDS,
  ...['incr', 'pexpire', 'pttl', 'get', 'set', 'del'],
]);

async function startRedis() {
  const port = await freePort();
  const child = ownChild(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' }));
  const failed = new Promise((_, reject) => child.once('error', (error) => reject(new Error(`bench:redis: cannot start redis-server (${error.message}); it must be on PATH`))));
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { retryStrategy: (times) => (times > 50 ? null : 100), maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  await Promise.race([admin.ping(), failed]);
  return { url, admin, child };
}

/** Redis CPU time so far (user + sys, ms). */
async function redisCpuMs(admin) {
  const info = await admin.info('cpu');
  const read = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1000;
}

/** Commands sent by clients so far, by name (commands only scripts call are left out). */
async function sentCommands(admin) {
  const info = await admin.info('commandstats');
  const calls = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    // INFO is this script's own reading.
    if (!SCRIPT_INTERNAL.has(match[1]) && match[1] !== 'info') calls[match[1]] = Number(match[2]);
  }
  return calls;
}

let offset = 0;
async function load(server, admin, redisPid, seconds) {
  const before = await sentCommands(admin);
  const serverBefore = await serverStats(server);
  const cpuBefore = await redisCpuMs(admin);
  const appCallsBefore = readWriteSyscalls(server.pid);
  const redisCallsBefore = readWriteSyscalls(redisPid);
  // A new range of clients for every load, so no client comes near its limits in the whole run.
  const firstClient = offset;
  offset += CLIENTS;
  const result = await loadClients({ port: server.port, connections: CONNECTIONS, clients: CLIENTS, seconds, firstClient });
  // Let the requests still in flight when the load stopped finish, then count both sides.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const serverAfter = await serverStats(server);
  const handled = serverAfter.handled - serverBefore.handled;
  const appCpuUs = (serverAfter.cpuMicros - serverBefore.cpuMicros) / Math.max(1, handled);
  const redisCpu = (await redisCpuMs(admin)) - cpuBefore;
  // Null where /proc/<pid>/io cannot be read: the table then says so.
  const perRequest = (before, after) => (before === null || after === null ? null : (after - before) / Math.max(1, handled));
  const appSyscalls = perRequest(appCallsBefore, readWriteSyscalls(server.pid));
  const redisSyscalls = perRequest(redisCallsBefore, readWriteSyscalls(redisPid));
  const after = await sentCommands(admin);
  const delta = {};
  for (const [name, calls] of Object.entries(after)) {
    const sent = calls - (before[name] ?? 0);
    if (sent > 0) delta[name] = sent;
  }
  const commands = Object.values(delta).reduce((sum, calls) => sum + calls, 0);
  return { rps: result.requests.average, total: handled, non2xx: result.non2xx, errors: result.errors + result.timeouts, commands, delta, appCpuUs, redisCpuUs: (redisCpu * 1000) / Math.max(1, handled), appSyscalls, redisSyscalls };
}

const LOAD_AT_START = loadAverage();
const redis = await startRedis();
const servers = new Map();
const instances = processInstances(VARIANTS, PROCESSES);
let processes;
try {
  for (const instance of instances) servers.set(instance.id, await startServer(join(here, 'redis-bench-server.mjs'), [instance.variant.id, JSON.stringify(LIMITS), redis.url]));
  const runs = await rotatingRounds({
    variants: instances,
    rounds: ROUNDS,
    seconds: DURATION,
    warmupSeconds: WARMUP,
    measure: (instance, seconds) => load(servers.get(instance.id), redis.admin, redis.child.pid, seconds),
    describe: (run) =>
      `${(run.commands / run.total).toFixed(3)} commands/req  ${run.appCpuUs.toFixed(1)} µs app CPU/req  ${run.redisCpuUs.toFixed(1)} µs Redis CPU/req ${JSON.stringify(run.delta)}  non-2xx ${run.non2xx}  errors ${run.errors}`,
  });
  processes = roundsByProcess(VARIANTS, instances, runs);
} finally {
  await Promise.all([...servers.values()].map(stopServer));
  redis.admin.disconnect();
  redis.child.kill('SIGKILL');
}

const rows = VARIANTS.map((variant) => {
  const perProcess = processes.get(variant.id);
  const list = perProcess.flat();
  const total = sumOf(list, (run) => run.total);
  const commands = sumOf(list, (run) => run.commands);
  const byName = {};
  for (const run of list) for (const [name, calls] of Object.entries(run.delta)) byName[name] = (byName[name] ?? 0) + calls;
  const rps = medianProcess(perProcess, (run) => run.rps);
  const appCpu = medianProcess(perProcess, (run) => run.appCpuUs);
  const redisCpu = medianProcess(perProcess, (run) => run.redisCpuUs);
  return {
    variant,
    rps: rps.value,
    processRps: rps.perProcess,
    processCpuUs: appCpu.perProcess.map((app, i) => app + redisCpu.perProcess[i]),
    total,
    commandsPerRequest: commands / total,
    redisCpuUs: redisCpu.value,
    appCpuUs: appCpu.value,
    appSyscalls: list.some((run) => run.appSyscalls === null) ? null : medianProcess(perProcess, (run) => run.appSyscalls).value,
    redisSyscalls: list.some((run) => run.redisSyscalls === null) ? null : medianProcess(perProcess, (run) => run.redisSyscalls).value,
    byName,
    non2xx: sumOf(list, (run) => run.non2xx),
    errors: sumOf(list, (run) => run.errors),
  };
});
const syscalls = (count) => (count === null ? 'n/a' : count.toFixed(2));
const pct = (fraction) => `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(0)}%`;
const processSummary = (row) => row.processRps.map((rps, i) => `${Math.round(rps)} (${row.processCpuUs[i].toFixed(0)})`).join(', ');
const ours = rows.find((row) => row.variant.id === 'ours');
const theirs = rows.find((row) => row.variant.id === 'nestjs-throttler');
const writeEach = rows.find((row) => row.variant.id === 'ours-write-each');
const ratio = ours.rps / theirs.rps;
const verdicts = [
  `- Throughput: ${ratio.toFixed(2)}x @nestjs/throttler + @nest-lab/throttler-storage-redis (target >= 1.5x): ${ratio >= 1.5 ? 'met' : 'NOT met'}.`,
  `- Each process, its median round (req/s, app + Redis CPU µs per request): ours ${processSummary(ours)}; theirs ${processSummary(theirs)}. ` +
    'On this shared host one server can switch between two levels from one round to the next, with app and Redis CPU per request rising ' +
    'together: on loopback, the CPU a request costs also depends on how many commands each system call carries, which falls when the ' +
    'machine slows down; and one process can stay slower than another of the same server for its whole life. The median process is the ' +
    'verdict; a run where most rounds fell on the low level can still miss a target that the next run meets.',
  `- CPU per request (app + Redis, medians, measured by the processes themselves): ours ${(ours.appCpuUs + ours.redisCpuUs).toFixed(0)} µs, theirs ${(theirs.appCpuUs + theirs.redisCpuUs).toFixed(0)} µs (${((theirs.appCpuUs + theirs.redisCpuUs) / (ours.appCpuUs + ours.redisCpuUs)).toFixed(2)}x). On loopback, with autocannon on the same cores, throughput follows total CPU; the second round trip the other store pays per request costs latency more than CPU, which a network between app and Redis would show.`,
  `- One write per turn (\`coalesceWrites\`, on by default) against writing each call at once, same store, same run: app CPU per request ${ours.appCpuUs.toFixed(1)} vs ${writeEach.appCpuUs.toFixed(1)} µs (${pct(ours.appCpuUs / writeEach.appCpuUs - 1)}), ` +
    `Redis CPU per request ${ours.redisCpuUs.toFixed(1)} vs ${writeEach.redisCpuUs.toFixed(1)} µs (${pct(ours.redisCpuUs / writeEach.redisCpuUs - 1)}), req/s ${(ours.rps / writeEach.rps).toFixed(2)}x; ` +
    `read + write system calls per request ${syscalls(ours.appSyscalls)} vs ${syscalls(writeEach.appSyscalls)} in the app, ${syscalls(ours.redisSyscalls)} vs ${syscalls(writeEach.redisSyscalls)} in Redis. ` +
    `Without it the throughput would be ${(writeEach.rps / theirs.rps).toFixed(2)}x the other store's.`,
  `- Redis commands per request, ours: ${ours.commandsPerRequest.toFixed(3)} (target exactly 1): ${Math.abs(ours.commandsPerRequest - 1) < 0.005 ? 'met' : 'NOT met'}; theirs: ${theirs.commandsPerRequest.toFixed(3)}.`,
];
const markdown = `## Redis store

Command: \`npm run bench\` (after the memory store) or \`npm run bench:redis\` (this section alone), with \`BENCH_DURATION=${DURATION} BENCH_WARMUP=${WARMUP} BENCH_ROUNDS=${ROUNDS} BENCH_CONNECTIONS=${CONNECTIONS} BENCH_CLIENTS=${CLIENTS}\`

Machine: ${machineFacts()}; redis-server started by the script on loopback.
Load average when the run started: ${LOAD_AT_START} (anything above 0 is other work competing for the same cores).
Run at ${new Date().toISOString()}.

A one-route Nest 12 app on Fastify, ${PROCESSES} processes of each variant, loaded one at a time with
autocannon (${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s over every process in rotating order after a ${WARMUP} s
warm-up each). A process's figure is its median round, a variant's its median process ("each process" lists them); the
commands column adds up every round of every process. Each load uses ${CLIENTS.toLocaleString('en-US')} fresh clients (X-Forwarded-For, one trusted proxy) and the
limits ${LIMITS.minute}/min + ${LIMITS.hour.toLocaleString('en-US')}/hour, so every request takes the allow path in every variant.
Redis commands are counted with \`INFO commandstats\` before and after each load; commands that only the
Lua scripts call inside Redis are not on the wire and are left out. System calls are Linux's
\`syscr\` + \`syscw\` of each process (/proc/<pid>/io): its socket reads and writes, HTTP and Redis together.

| Variant | req/s (median process) | each process | app CPU / request | Redis CPU / request | read + write system calls / request: app, Redis | Redis commands / request (sent) | non-2xx | errors |
| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |
${rows
  .map((row) => `| ${row.variant.label} | ${Math.round(row.rps)} | ${row.processRps.map((rps) => Math.round(rps)).join(', ')} | ${row.appCpuUs.toFixed(1)} µs | ${row.redisCpuUs.toFixed(1)} µs | ${syscalls(row.appSyscalls)}, ${syscalls(row.redisSyscalls)} | ${row.commandsPerRequest.toFixed(3)} (${Object.entries(row.byName).map(([name, calls]) => `${name}: ${calls}`).join(', ')} over ${row.total} requests handled) | ${row.non2xx} | ${row.errors} |`)
  .join('\n')}

${verdicts.join('\n')}
`;
const outFile = resultsPath();
writeSection(outFile, REDIS_SECTION, markdown);
console.log(`\n${markdown}\nWritten to ${outFile} (its "Redis store" section)`);
process.exit(0);
