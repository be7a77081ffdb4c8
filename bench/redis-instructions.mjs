// `npm run bench:redis-instructions`: machine instructions per request of the Redis-store servers of
// `npm run bench:redis`, counted by valgrind's callgrind on both sides of the wire: the app server's
// main thread and redis-server's. Like bench/instructions.mjs for the memory store, the counts come
// back within a few percent whatever else the machine does, where req/s and CPU time move by 10-20%
// between runs; they leave out the kernel (system calls, loopback) and cache misses. Writes the
// "Redis store: instructions per request" section of bench/RESULTS.md.
//
// Each variant gets its own redis-server (free loopback port, no persistence) and its own app server,
// both under callgrind. WARMUP requests settle the JIT and load the script, the counters of both are
// zeroed, MEASURED requests follow from fresh clients, and both are dumped. The variants run side
// by side (one per core); together they take two or three minutes.
//
// Knobs (environment): BENCH_INSTR_WARMUP (default 6000), BENCH_INSTR_MEASURED (default 3000),
// BENCH_OUT (the results file, default bench/RESULTS.md).
import { Redis } from 'ioredis';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpCounts, mainThreadCountsWithGc, mainThreadInstructions, removeCounts, requireValgrind, startCountedRedis, startCountedServer, twoAtATime, zeroCounts } from './lib/callgrind.mjs';
import { limitRunTime } from './lib/child-processes.mjs';
import { positiveNumber } from './lib/env.mjs';
import { freePort } from './lib/free-port.mjs';
import { loadClients } from './lib/load.mjs';
import { machineFacts } from './lib/machine.mjs';
import { REDIS_LIMITS, REDIS_VARIANTS } from './lib/redis-variants.mjs';
import { REDIS_INSTRUCTIONS_SECTION, resultsPath, writeSection } from './lib/results-file.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const WARMUP = positiveNumber('BENCH_INSTR_WARMUP', 6000);
const MEASURED = positiveNumber('BENCH_INSTR_MEASURED', 3000);
const CONNECTIONS = 20;
const CLIENTS = 2000;
limitRunTime('bench:redis-instructions', 15 * 60_000);

async function measure(variant) {
  const port = await freePort();
  const redis = startCountedRedis(port);
  // redis-server under valgrind can take many seconds to listen on a loaded machine: the ping waits for
  // it as long as the retry strategy allows (a minute), not ioredis's default of 20 retries per command.
  const admin = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: (times) => (times > 600 ? null : 100), maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  let server;
  try {
    await admin.ping();
    server = await startCountedServer(join(here, 'redis-bench-server.mjs'), [variant.id, JSON.stringify(REDIS_LIMITS), `redis://127.0.0.1:${port}`], `bench:redis-instructions: '${variant.id}'`);
    await loadClients({ port: server.port, connections: CONNECTIONS, clients: CLIENTS, amount: WARMUP, firstClient: 0 });
    zeroCounts(server.child.pid);
    zeroCounts(redis.child.pid);
    // Fresh clients: no one comes near the limits, as in the req/s runs.
    const result = await loadClients({ port: server.port, connections: CONNECTIONS, clients: CLIENTS, amount: MEASURED, firstClient: CLIENTS });
    dumpCounts(server.child.pid);
    dumpCounts(redis.child.pid);
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`bench:redis-instructions: '${variant.id}' answered ${result.non2xx} non-2xx and ${result.errors} errors`);
    const requests = result.requests.total;
    // The app's garbage collection apart, as in bench/instructions.mjs; redis-server has none of its kind.
    const counted = mainThreadCountsWithGc(server.outDir);
    const app = (counted.total - counted.gc) / requests;
    const appGc = counted.gc / requests;
    const inRedis = mainThreadInstructions(redis.outDir) / requests;
    console.log(
      `${variant.id.padEnd(18)} app ${Math.round(app).toLocaleString('en-US')} + ${Math.round(appGc).toLocaleString('en-US')} in GC  ` +
        `redis-server ${Math.round(inRedis).toLocaleString('en-US')} instructions/request (${requests} requests)`,
    );
    return { app, appGc, redis: inRedis };
  } finally {
    admin.disconnect();
    server?.child.kill('SIGKILL');
    redis.child.kill('SIGKILL');
    if (server !== undefined) removeCounts(server.outDir);
    removeCounts(redis.outDir);
  }
}

function report(counts, startedAt, elapsedMs) {
  const ours = counts.get('ours');
  const theirs = counts.get('nestjs-throttler');
  const writeEach = counts.get('ours-write-each');
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const lines = [
    '## Redis store: instructions per request',
    '',
    `Command: \`npm run bench:redis-instructions\` (valgrind's callgrind), with \`BENCH_INSTR_WARMUP=${WARMUP} BENCH_INSTR_MEASURED=${MEASURED}\`. ` +
      `Run at ${startedAt.toISOString()}, took ${Math.round(elapsedMs / 1000)} s. Machine: ${machineFacts()}.`,
    '',
    `The servers of the section above, each with a redis-server of its own, both under callgrind: ${WARMUP.toLocaleString('en-US')} requests to warm up, ` +
      `then the instructions that the app's main thread and redis-server's main thread execute for ${MEASURED.toLocaleString('en-US')} more ` +
      `requests from fresh clients (${CONNECTIONS} connections, limits ${REDIS_LIMITS.minute}/min + ${REDIS_LIMITS.hour.toLocaleString('en-US')}/hour, never reached), divided by ${MEASURED.toLocaleString('en-US')}. ` +
      'The app\'s garbage collection is counted apart (V8\'s Heap::CollectGarbage, inclusive) and left out of the ratios: whether a scavenge ' +
      'falls inside the counted requests moves the app\'s count by thousands per request from one run to the next. ' +
      'Not time: the kernel (system calls, the loopback round trips) and cache misses are left out, and the other store pays one more round trip per request.',
    '',
    '| server | app instructions / request, GC apart | redis-server instructions / request | both | app GC in the window, per request |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...REDIS_VARIANTS.map((variant) => {
      const count = counts.get(variant.id);
      return `| ${variant.label} | ${fmt(count.app)} | ${fmt(count.redis)} | ${fmt(count.app + count.redis)} | ${fmt(count.appGc)} |`;
    }),
    '',
    `- The other store executes ${(theirs.app / ours.app).toFixed(2)}x the app instructions, ${(theirs.redis / ours.redis).toFixed(2)}x the Redis ` +
      `instructions and ${((theirs.app + theirs.redis) / (ours.app + ours.redis)).toFixed(2)}x both together.`,
    `- One write per turn (\`coalesceWrites\`, the default) against writing each call at once: ${fmt(ours.app)} against ${fmt(writeEach.app)} app instructions ` +
      `and ${fmt(ours.redis)} against ${fmt(writeEach.redis)} Redis instructions per request. What it saves is system calls on both sides, kernel work ` +
      'that these counts leave out (the section above counts the system calls and the CPU time).',
    '',
  ];
  return lines.join('\n');
}

requireValgrind('bench:redis-instructions');
const startedAt = new Date();
const measured = await twoAtATime(REDIS_VARIANTS.map((variant) => () => measure(variant)));
const counts = new Map(REDIS_VARIANTS.map((variant, i) => [variant.id, measured[i]]));
writeSection(resultsPath(), REDIS_INSTRUCTIONS_SECTION, report(counts, startedAt, Date.now() - startedAt.getTime()));
console.log(`\nWritten to ${resultsPath()} (its "Redis store: instructions per request" section)`);
process.exit(0);
