// `npm run bench`: throughput of a one-route Nest app on Fastify with no guard, with this module
// (memory store, two throttles per request), with this module plus a global no-op interceptor, and
// with @nestjs/throttler 6.7 (same two limits), side by side in one run. Writes bench/RESULTS.md
// (or BENCH_OUT) but keeps the "Redis store" section there, which bench/redis-bench.mjs writes.
//
// Every server runs in its own process (bench/server.mjs); autocannon loads one server at a time
// from this process. Each scenario starts PROCESSES fresh processes of every variant, warms each one
// up, then runs ROUNDS rounds over all of them in a rotating order. A process's figure is the median
// of its rounds, a variant's the median of its processes: on these virtual machines one process of
// a server can run 20-30% slower than another process of the very same server for its whole life
// (not because of the core it runs on; most likely where its memory landed), and with one process per
// variant that alone decided a ratio. Everything is bounded: each load lasts DURATION seconds and the whole run is killed after
// 30 minutes.
//
// Knobs (environment): BENCH_DURATION (s, default 3), BENCH_WARMUP (s, default 3),
// BENCH_ROUNDS (default 3), BENCH_PROCESSES (default 3), BENCH_CONNECTIONS (default 50),
// BENCH_SCENARIOS (e.g. "a,c"), BENCH_VARIANTS, BENCH_OUT (the results file, default bench/RESULTS.md).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limitRunTime } from './lib/child-processes.mjs';
import { positiveInteger, positiveNumber } from './lib/env.mjs';
import { loadAverage, machineFacts } from './lib/machine.mjs';
import { BUSY_NS, memoryScenario, memoryVariants } from './lib/memory-variants.mjs';
import { GUARD_SECTION, INSTRUCTIONS_SECTION, MEMORY_SECTION, REDIS_INSTRUCTIONS_SECTION, REDIS_SECTION, resultsPath, writeReport } from './lib/results-file.mjs';
import { medianProcess } from './lib/rounds.mjs';
import { serverRounds } from './lib/server-rounds.mjs';
import { sumOf } from './lib/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const DURATION = positiveNumber('BENCH_DURATION', 3);
const WARMUP = positiveNumber('BENCH_WARMUP', 3);
const ROUNDS = positiveInteger('BENCH_ROUNDS', 3);
const PROCESSES = positiveInteger('BENCH_PROCESSES', 3);
const CONNECTIONS = positiveNumber('BENCH_CONNECTIONS', 50);
limitRunTime('bench', 30 * 60_000);

// BENCH_VARIANTS (ids from bench/lib/memory-variants.mjs, e.g. "none,ours,ours-no-headers") runs a
// focused comparison instead: it prints medians against the first variant and writes no file.
const VARIANTS = memoryVariants(
  (process.env.BENCH_VARIANTS ?? 'none,noop-guard,busy-guard,header-writing-guard,ours,ours-no-headers,ours-interceptor,nestjs-throttler').split(','),
);

const SCENARIOS = [
  { ...memoryScenario('a'), targets: { vsNone: 0.9, vsThrottler: 1.5 } },
  { ...memoryScenario('b'), targets: { vsNone: 0.9 } },
  { ...memoryScenario('c'), targets: { vsNone: 0.9, vsThrottler: 5 } },
].filter((scenario) => (process.env.BENCH_SCENARIOS ?? 'a,b,c').split(',').includes(scenario.id));

/**
 * Runs one scenario on PROCESSES processes of every variant. Resolves with { scenario, processes }:
 * Map(variant id -> one list of rounds per process).
 */
async function runScenario(scenario) {
  console.log(`\n${scenario.title}`);
  const processes = await serverRounds({
    script: join(here, 'server.mjs'),
    variants: VARIANTS,
    processes: PROCESSES,
    argsOf: (variant) => [variant.id, JSON.stringify(scenario.limits)],
    rounds: ROUNDS,
    seconds: DURATION,
    warmupSeconds: WARMUP,
    connections: CONNECTIONS,
    clients: scenario.clients,
  });
  return { scenario, processes };
}

/** A variant's figures from its processes (medianProcess()), and its totals over every round. */
function variantFigures(processes) {
  const rps = medianProcess(processes, (run) => run.rps);
  const cpu = medianProcess(processes, (run) => run.cpuPerRequest);
  const all = processes.flat();
  return {
    rps: rps.value,
    cpu: cpu.value,
    perProcess: processes.map((_, i) => ({ rps: rps.perProcess[i], cpu: cpu.perProcess[i] })),
    total: sumOf(all, (run) => run.total),
    non2xx: sumOf(all, (run) => run.non2xx),
    errors: sumOf(all, (run) => run.errors + run.timeouts),
  };
}

function summarize({ scenario, processes }) {
  const rows = VARIANTS.map((variant) => ({ variant, ...variantFigures(processes.get(variant.id)) }));
  const byId = new Map(rows.map((row) => [row.variant.id, row]));
  const none = byId.get('none').rps;
  const throttler = byId.get('nestjs-throttler').rps;
  const ours = byId.get('ours').rps;
  const verdicts = [];
  const noneCpu = byId.get('none').cpu;
  const throttlerCpu = byId.get('nestjs-throttler').cpu;
  const oursCpu = byId.get('ours').cpu;
  const vsNone = ours / none;
  verdicts.push({
    text: `this module >= ${scenario.targets.vsNone * 100}% of no guard`,
    measured: `${(vsNone * 100).toFixed(1)}% (by server CPU per request: ${((noneCpu / oursCpu) * 100).toFixed(1)}%)`,
    met: vsNone >= scenario.targets.vsNone,
  });
  if (scenario.targets.vsThrottler !== undefined) {
    const vsThrottler = ours / throttler;
    verdicts.push({
      text: `this module >= ${scenario.targets.vsThrottler}x @nestjs/throttler`,
      measured: `${vsThrottler.toFixed(2)}x (by server CPU per request: ${(throttlerCpu / oursCpu).toFixed(2)}x)`,
      met: vsThrottler >= scenario.targets.vsThrottler,
    });
  }
  return { scenario, rows, none, throttler, noneCpu, verdicts };
}

function table(summary) {
  const lines = [
    `### ${summary.scenario.title}`,
    '',
    '| server | req/s (median process) | each process | vs no guard | vs @nestjs/throttler | server CPU µs/req (median process) | each process | CPU vs no guard | responses | non-2xx | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of summary.rows) {
    const eachRps = row.perProcess.map((one) => Math.round(one.rps).toLocaleString('en-US')).join(', ');
    const eachCpu = row.perProcess.map((one) => one.cpu.toFixed(1)).join(', ');
    lines.push(
      `| ${row.variant.label} | ${Math.round(row.rps).toLocaleString('en-US')} | ${eachRps} | ` +
        `${((row.rps / summary.none) * 100).toFixed(1)}% | ${(row.rps / summary.throttler).toFixed(2)}x | ${row.cpu.toFixed(1)} | ${eachCpu} | ` +
        `${((summary.noneCpu / row.cpu) * 100).toFixed(1)}% | ${row.total.toLocaleString('en-US')} | ${row.non2xx} | ${row.errors} |`,
    );
  }
  lines.push('');
  const spread = widestProcessSpread(summary.rows);
  if (PROCESSES > 1) lines.push(
    `- Processes of the same server: the widest spread in this scenario was ${spread.label}'s, whose slowest process took ` +
      `${((spread.ratio - 1) * 100).toFixed(0)}% more CPU per request than its fastest (medians of ${ROUNDS} rounds each: ${spread.values}). ` +
      'The processes ran the same code under the same load, in rounds taken turn about, so what the host did at one moment weighs on all of them alike.',
  );
  const cpu = new Map(summary.rows.map((row) => [row.variant.id, row.cpu]));
  const rps = new Map(summary.rows.map((row) => [row.variant.id, row.rps]));
  const extra = (id, over = 'none') => `${(cpu.get(id) - cpu.get(over)).toFixed(1)} µs`;
  const share = (id) => `${((rps.get(id) / summary.none) * 100).toFixed(1)}%`;
  lines.push(
    `- Server CPU per request over no guard (medians): a guard that returns true ${extra('noop-guard')}, one that burns ${BUSY_NS} ns ` +
      `${extra('busy-guard')}, one that writes the two headers ${extra('header-writing-guard')}, this module ${extra('ours')} ` +
      `(${extra('ours-no-headers')} with \`headers: false\`), @nestjs/throttler ${extra('nestjs-throttler')}; the global no-op ` +
      `interceptor adds ${extra('ours-interceptor', 'ours')} on top of this module.`,
  );
  lines.push(
    `- Where this module's share of no guard goes, by req/s: writing the two headers and counting nothing reaches ${share('header-writing-guard')}; ` +
      `this module with \`headers: false\` ${share('ours-no-headers')}, with them ${share('ours')}. ${BUSY_NS} ns of work per request and ` +
      `no allocation (the busy guard) reaches ${share('busy-guard')}: the exchange rate between a guard's own time and the server's throughput in this run.`,
  );
  const gauge = summary.rows.find((row) => row.variant.id === 'noop-guard');
  lines.push(`- Noise gauge: the do-nothing guard, which does no more work than no guard, measured ${((gauge.rps / summary.none) * 100).toFixed(1)}% of its req/s in this run.`);
  if (summary.scenario.targets.vsThrottler !== undefined) {
    lines.push(
      `- Ceiling: a guard that cost nothing at all would be ${(cpu.get('nestjs-throttler') / cpu.get('none')).toFixed(2)}x @nestjs/throttler here ` +
        '(its server CPU per request over no guard\'s): the request through Nest and Fastify costs the same in both.',
    );
  }
  for (const verdict of summary.verdicts) lines.push(`- Target: ${verdict.text}: measured ${verdict.measured}, **${verdict.met ? 'met' : 'MISSED'}**`);
  lines.push('');
  return lines.join('\n');
}

/** The variant whose processes differ most in CPU per request (slowest over fastest). */
function widestProcessSpread(rows) {
  let widest = { label: '', ratio: 1, values: '' };
  for (const row of rows) {
    const cpus = row.perProcess.map((one) => one.cpu);
    const ratio = Math.max(...cpus) / Math.min(...cpus);
    if (ratio >= widest.ratio) widest = { label: row.variant.id, ratio, values: `${cpus.map((cpu) => cpu.toFixed(1)).join(', ')} µs` };
  }
  return widest;
}

function report(summaries, startedAt, elapsedMs, startLoad) {
  return [
    '# Benchmark results',
    '',
    'Produced by `npm run bench`, which builds the library, then runs `node bench/run.mjs` (the memory store: everything ' +
      'above the sections below, rewritten each run), `node bench/instructions.mjs` ("Instructions per request"), ' +
      '`node bench/guard-in-process.mjs` ("The guard in one process"), ' +
      '`node bench/redis-bench.mjs` ("Redis store"), `node bench/redis-instructions.mjs` ("Redis store: instructions ' +
      'per request") and `node --expose-gc bench/memory-footprint.mjs` ("Memory per key"). Each of the last five replaces its ' +
      'own section and keeps the rest, so `npm run bench:instructions`, `npm run bench:guard`, `npm run bench:redis`, ' +
      '`npm run bench:redis-instructions` and `npm run bench:memory` can run alone.',
    '',
    `- Run: ${startedAt.toISOString()}, took ${Math.round(elapsedMs / 1000)} s`,
    `- Machine: ${machineFacts()}; load average when the run started: ${startLoad} (anything above 0 is other work on the same cores; ` +
      'other virtual machines on the host do not show in it)',
    `- Load: autocannon (programmatic API) from the parent process, ${CONNECTIONS} connections, pipelining 1, ` +
      `${DURATION} s per run, ${WARMUP} s warm-up per process, ${ROUNDS} rounds over every process in rotating order.`,
    `- Processes: ${PROCESSES} of every server, all started for the scenario. A process's figure is the median of its ` +
      'rounds ("each process"), a server\'s the median of its processes. "responses", "non-2xx" and "errors" add up all ' +
      'rounds of all its processes.',
    '- "server CPU µs/req": the server process\'s own CPU time (user + system) during a run divided by its responses. ' +
      'It depends less than req/s on what else the machine runs at the time; "CPU vs no guard" ' +
      'is the no-guard server\'s CPU per request over this one\'s, i.e. the throughput ratio a CPU-bound server would see.',
    '- Servers: a one-route Nest app (GET / returns a string) on Fastify (@nestjs/platform-fastify), logger off, each in ' +
      'its own process on 127.0.0.1, fresh processes for each scenario. The load generator and the server share the 2 cores.',
    '',
    '## How the comparison is kept fair',
    '',
    '- Every request carries `X-Forwarded-For: <client address>`; each connection cycles through its share of the ' +
      'scenario\'s clients, so the servers see that many distinct identities. The no-guard server gets the same requests.',
    '- This module: `ThrottlingModule.forRoot({ defaultThrottles: [UserThrottle.with({ scope: \'minute\', rate }), ' +
      'UserThrottle.with({ scope: \'hour\', rate })], numProxies: 1 })`: the default memory store, IETF RateLimit headers on.',
    '- @nestjs/throttler 6.7: `ThrottlerModule.forRoot({ throttlers: [{ name: \'minute\', ... }, { name: \'hour\', ... }], ' +
      'getTracker })` with ThrottlerGuard as APP_GUARD, its default in-memory storage and its X-RateLimit headers on. Its ' +
      '`getTracker` reads the same X-Forwarded-For header (rightmost address, as `numProxies: 1` does), so both identify ' +
      'clients the same way; with its default tracker (`req.ip`) every request would be one client.',
    '- 2b is this module plus a global interceptor (`APP_INTERCEPTOR`) whose `intercept` returns `next.handle()`: it shows ' +
      'what a global interceptor costs in itself (for example with `enforceAt: \'interceptor\'`).',
    '- Limits are high enough that clients stay under them: the allow path is measured. The non-2xx column shows it.',
    '',
    '## Results',
    '',
    ...summaries.map(table),
    '## Reading these numbers',
    '',
    '- The machine has 2 cores for the load generator, the server under test and whatever else runs at the time ' +
      '(other test suites, compilers, other virtual machines on the host). Runs of the same server a few seconds apart can ' +
      'differ by a factor of two; the rotating order and the medians soften this but do not remove it, and the noise gauge ' +
      'above shows how much is left. The server CPU per request is the steadier figure; where req/s and CPU disagree on a ' +
      'target, trust the CPU column more, and rerun `npm run bench` on a quiet machine for the req/s.',
    '- One process is not a sample of its server. On these virtual machines a process can run 20-30% slower than another ' +
      'process of the same server, same code and same load, and stay that way for its whole life: in a check with six ' +
      'processes of the no-guard server, one or two of the six took 39 to 44 µs of CPU per request in every round while the ' +
      'others took 30 to 35, whichever core they were pinned to (`taskset`): not the core, then; where the process\'s memory ' +
      'landed is the likeliest cause, which we could not confirm from inside the machine. ' +
      'Earlier runs of this benchmark had one process per server, so one unlucky process could move a ratio by 20 points; the "each process" columns show how far the processes of this run spread.',
    '- Nest itself charges little for a global guard (the do-nothing guard row): the rest of the gap between no guard and ' +
      'this module is what the module does per request, and what the kernel and the garbage collector charge for it.',
    '- A nanosecond of guard costs the server more than a nanosecond here. A CPU profile of these servers puts most of a ' +
      'request\'s server time in the kernel, in the writev that sends the response over loopback, and that part grows when ' +
      'the server slows down: the load generator on the other core is then more often asleep when a response arrives, and ' +
      'waking it is charged to the write. The busy guard row is the exchange rate of this run: ' + BUSY_NS + ' ns of work per ' +
      'request, nothing allocated. Allocation costs on top of its own time: every object a request leaves behind brings the ' +
      'next scavenge of the young heap nearer, and each scavenge copies what the requests in flight still hold.',
    '- The header-writing guard row is what the two IETF headers cost any guard (Fastify\'s reply.header(), Node\'s ' +
      'validation of each name and value with regular expressions, and a longer response head to build and send); the ' +
      'difference between it and this module is this module\'s own work: reading the client from X-Forwarded-For, the ' +
      'ThrottleContext, two sliding-log checks in one store call (one Map lookup by the client part, shared by both ' +
      'throttles, ring buffer append, LRU relink), two decisions and the header values. By instruction counts (the ' +
      'section below) the headers look dearer than they are in time, and the cold reads of scenario (a), whose 20,000 keys ' +
      'do not fit the caches, cheaper: instructions weigh neither cache misses nor the kernel.',
    '- A verdict of "met" or "missed" within a few points of the target depends on the run: the noise gauge (the ' +
      'do-nothing guard, which should read 100%) shows how far this one strayed. Rerun on a quiet machine before reading ' +
      'a verdict from a run whose gauge is far from 100%, or whose no-guard server measured far slower than in the other ' +
      'scenarios (its CPU per request is the same work in all three).',
    '- @nestjs/throttler 6.7\'s in-memory storage keeps one expiry per hit and filters the whole list of a key on every ' +
      'request (O(hits in the window)), and hashes every key with SHA-256. With one hot client its cost per request grows ' +
      'as hits accumulate, so its figure in (c) falls, and our ratio over it rises, with the length of the run. This ' +
      'module\'s sliding log drops expired hits from the front of a ring buffer: O(1) amortized per request whatever the limit.',
    '- A global no-op interceptor costs Nest an rxjs pipeline per request (see the 2b row): more than this module\'s whole ' +
      'throttling work. `enforceAt: \'interceptor\'` pays that price once; prefer the default guard unless auth guards sit on controllers.',
    '',
  ].join('\n');
}

/** A focused run (BENCH_VARIANTS): medians against the first variant, printed only; the results file is left alone. */
function printFocused({ scenario, processes }) {
  const medians = VARIANTS.map((variant) => ({ variant, ...variantFigures(processes.get(variant.id)) }));
  const [base] = medians;
  console.log(`\n${scenario.title}: medians, as a share of ${base.variant.id}`);
  for (const row of medians) {
    console.log(
      `  ${row.variant.id.padEnd(22)} ${Math.round(row.rps).toString().padStart(6)} req/s ${((row.rps / base.rps) * 100).toFixed(1).padStart(6)}%` +
        `   ${row.cpu.toFixed(1).padStart(6)} µs CPU/req ${((base.cpu / row.cpu) * 100).toFixed(1).padStart(6)}%` +
        `   processes: ${row.perProcess.map((one) => one.cpu.toFixed(1)).join(', ')} µs`,
    );
  }
}

if (process.env.BENCH_VARIANTS !== undefined) {
  for (const scenario of SCENARIOS) printFocused(await runScenario(scenario));
  process.exit(0);
}

const startedAt = new Date();
const started = Date.now();
const startLoad = loadAverage();
const summaries = [];
for (const scenario of SCENARIOS) summaries.push(summarize(await runScenario(scenario)));
const markdown = report(summaries, startedAt, Date.now() - started, startLoad);
const outFile = resultsPath();
// The Redis driver's section stays as it last wrote it; `npm run bench` runs that driver next.
writeReport(outFile, markdown, [INSTRUCTIONS_SECTION, GUARD_SECTION, REDIS_SECTION, REDIS_INSTRUCTIONS_SECTION, MEMORY_SECTION]);
console.log(`\n${markdown}\nWritten to ${outFile}`);
