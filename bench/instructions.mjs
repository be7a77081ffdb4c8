// `npm run bench:instructions`: machine instructions per request on the server's main thread,
// counted by valgrind's callgrind: the same figure from one run to the next (within a few percent, mostly 1%),
// whatever else the machine is doing, where req/s and CPU time on these shared 2-core hosts move by
// 10-20% between rounds. Writes the "Instructions per request" section of bench/RESULTS.md.
//
// Each server (bench/server.mjs, the same one-route Fastify app as `npm run bench`) runs under
// callgrind. autocannon sends WARMUP requests so the JIT settles, the counters are zeroed, MEASURED
// more requests follow, and the counters are dumped; the main thread's total over MEASURED, less
// what it spent in garbage collection (counted apart: a scavenge inside or outside the window moved
// the total by thousands per request), is the figure. Two servers run at a time (one per core); each
// takes about a minute.
//
// Knobs (environment): BENCH_INSTR_WARMUP (default 5000), BENCH_INSTR_MEASURED (default 3000),
// BENCH_OUT (the results file, default bench/RESULTS.md).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpCounts, mainThreadCountsWithGc, removeCounts, requireValgrind, startCountedServer, twoAtATime, zeroCounts } from './lib/callgrind.mjs';
import { limitRunTime } from './lib/child-processes.mjs';
import { positiveNumber } from './lib/env.mjs';
import { loadClients } from './lib/load.mjs';
import { machineFacts } from './lib/machine.mjs';
import { memoryScenario, memoryVariants } from './lib/memory-variants.mjs';
import { INSTRUCTIONS_SECTION, resultsPath, writeSection } from './lib/results-file.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const WARMUP = positiveNumber('BENCH_INSTR_WARMUP', 5000);
const MEASURED = positiveNumber('BENCH_INSTR_MEASURED', 3000);
const CONNECTIONS = 20;
limitRunTime('bench:instructions', 20 * 60_000);

const VARIANTS = memoryVariants(['none', 'noop-guard', 'header-writing-guard', 'ours', 'ours-no-headers', 'nestjs-throttler']);

// The scenarios of bench/run.mjs. @nestjs/throttler is left out of (c): its cost grows with the hits of the
// hot key, and under callgrind (about 50 times slower) it would need most of an hour.
const SCENARIOS = [
  { ...memoryScenario('a'), variants: ['none', 'noop-guard', 'header-writing-guard', 'ours', 'ours-no-headers', 'nestjs-throttler'] },
  { ...memoryScenario('b'), variants: ['none', 'noop-guard', 'header-writing-guard', 'ours', 'ours-no-headers', 'nestjs-throttler'] },
  { ...memoryScenario('c'), variants: ['none', 'noop-guard', 'header-writing-guard', 'ours', 'ours-no-headers'] },
];

function warmupFor(scenario) {
  return Math.max(WARMUP, scenario.clients + 2000);
}

async function measure(scenario, variant) {
  const server = await startCountedServer(join(here, 'server.mjs'), [variant, JSON.stringify(scenario.limits)], `bench:instructions: '${variant}'`);
  try {
    // Every client is seen at least once before counting: the measured requests find their keys, as in
    // the steady state that the throughput runs measure.
    await loadClients({ port: server.port, connections: CONNECTIONS, clients: scenario.clients, amount: warmupFor(scenario) });
    zeroCounts(server.child.pid);
    const result = await loadClients({ port: server.port, connections: CONNECTIONS, clients: scenario.clients, amount: MEASURED });
    dumpCounts(server.child.pid);
    const requests = result.requests.total;
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`bench:instructions: '${variant}' answered ${result.non2xx} non-2xx and ${result.errors} errors`);
    const { total, gc } = mainThreadCountsWithGc(server.outDir);
    const perRequest = (total - gc) / requests;
    const gcPerRequest = gc / requests;
    console.log(`${scenario.id} ${variant.padEnd(18)} ${Math.round(perRequest).toLocaleString('en-US')} instructions/request + ${Math.round(gcPerRequest).toLocaleString('en-US')} in GC (${requests} requests)`);
    return { perRequest, gcPerRequest };
  } finally {
    server.child.kill('SIGKILL');
    removeCounts(server.outDir);
  }
}

function report(measured, startedAt, elapsedMs) {
  const lines = [
    '## Instructions per request',
    '',
    `Command: \`npm run bench:instructions\` (valgrind's callgrind), with \`BENCH_INSTR_WARMUP=${WARMUP} BENCH_INSTR_MEASURED=${MEASURED}\`. ` +
      `Run at ${startedAt.toISOString()}, took ${Math.round(elapsedMs / 1000)} s. Machine: ${machineFacts()}.`,
    '',
    `The same servers as above, each under callgrind: ${WARMUP.toLocaleString('en-US')} requests (in (a), ` +
      `${warmupFor(SCENARIOS.find((scenario) => scenario.id === 'a')).toLocaleString('en-US')}: every client once) to warm the JIT and the store up, then the ` +
      `machine instructions that the server's main thread (the one that limits its throughput) executes for the next ` +
      `${MEASURED.toLocaleString('en-US')} requests, divided by ${MEASURED.toLocaleString('en-US')}, with garbage collection counted apart ` +
      '(the inclusive count of V8\'s Heap::CollectGarbage on that thread). A scavenge of the young generation costs millions of ' +
      'instructions and comes every few thousand requests, so whether one falls inside the counted requests moved a server\'s ' +
      'whole count by up to 6,000 per request from one run to the next; the "GC in the window" column shows what it added in this run. ' +
      'Without it the count repeats within a few percent (the JIT does not always make the same choices) whatever else the machine ' +
      'does, which req/s and CPU time on these shared hosts do not. The ratios and the budget below use the count without GC: what ' +
      'a server allocates is paid in scavenges at a rate these 3,000 requests cannot measure. It is not ' +
      'time: it leaves out the kernel (system calls) and does not weigh cache misses, so a module that touches more memory per ' +
      'request (scenario (a): 20,000 keys) costs more time than its count says. "no guard / this" is the throughput this server ' +
      'would reach relative to no guard if time followed instructions.',
    '',
  ];
  for (const scenario of SCENARIOS) {
    const counts = new Map([...measured.get(scenario.id)].map(([id, count]) => [id, count.perRequest]));
    const gcCounts = new Map([...measured.get(scenario.id)].map(([id, count]) => [id, count.gcPerRequest]));
    const none = counts.get('none');
    lines.push(
      `### ${scenario.title}`,
      '',
      '| server | instructions / request, GC apart | over no guard | no guard / this | GC in the window, per request |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    for (const variant of VARIANTS) {
      const count = counts.get(variant.id);
      if (count === undefined) continue;
      const gc = gcCounts.get(variant.id);
      lines.push(
        `| ${variant.label} | ${Math.round(count).toLocaleString('en-US')} | ${variant.id === 'none' ? '' : signed(count - none)} | ${((none / count) * 100).toFixed(1)}% | ${Math.round(gc).toLocaleString('en-US')} |`,
      );
    }
    const ours = counts.get('ours');
    const noHeaders = counts.get('ours-no-headers');
    const nestGuard = counts.get('noop-guard') - none;
    const headersAlone = counts.get('header-writing-guard') - counts.get('noop-guard');
    const budget = none / 0.9;
    const verdict = (count) => (count <= budget ? `${Math.round(budget - count).toLocaleString('en-US')} under` : `${Math.round(count - budget).toLocaleString('en-US')} over`);
    lines.push(
      '',
      `- 90% of no guard's throughput allows ${Math.round(budget).toLocaleString('en-US')} instructions per request, ${Math.round(budget - none).toLocaleString('en-US')} over no guard. ` +
        (nestGuard >= 0
          ? `Nest's call of any global guard takes ${Math.round(nestGuard).toLocaleString('en-US')} of those, and writing the two IETF headers through Fastify and Node `
          : `The do-nothing guard measured ${Math.round(-nestGuard).toLocaleString('en-US')} below no guard in this run, which is the count's own noise between two servers, not a saving; ` +
            'writing the two IETF headers through Fastify and Node ') +
        `(a guard that does nothing else, above) ${Math.round(headersAlone).toLocaleString('en-US')} more: that guard alone reaches ` +
        `${((none / counts.get('header-writing-guard')) * 100).toFixed(1)}% of no guard, before a single count is kept.`,
      `- This module's own throttling adds ${Math.round(noHeaders - counts.get('noop-guard')).toLocaleString('en-US')} instructions over the do-nothing guard (\`headers: false\`). ` +
        `That leaves it ${verdict(noHeaders)} the budget with \`headers: false\`, and ${verdict(ours)} with the headers on, which cost it ` +
        `${Math.round(ours - noHeaders).toLocaleString('en-US')} (the guard that only writes them: ${Math.round(headersAlone).toLocaleString('en-US')}).`,
    );
    const throttler = counts.get('nestjs-throttler');
    if (throttler !== undefined) {
      lines.push(`- @nestjs/throttler executes ${((throttler - none) / (counts.get('ours') - none)).toFixed(1)}x the instructions this module adds over no guard.`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** `+1,234` or `−875`. */
function signed(value) {
  const rounded = Math.round(value);
  return `${rounded < 0 ? '−' : '+'}${Math.abs(rounded).toLocaleString('en-US')}`;
}

requireValgrind('bench:instructions');
const startedAt = new Date();
const jobs = SCENARIOS.flatMap((scenario) => scenario.variants.map((variant) => ({ scenario, variant })));
const counts = await twoAtATime(jobs.map(({ scenario, variant }) => () => measure(scenario, variant)));
const measured = new Map(SCENARIOS.map((scenario) => [scenario.id, new Map()]));
jobs.forEach(({ scenario, variant }, i) => measured.get(scenario.id).set(variant, counts[i]));
writeSection(resultsPath(), INSTRUCTIONS_SECTION, report(measured, startedAt, Date.now() - startedAt.getTime()));
console.log(`\nWritten to ${resultsPath()} (its "Instructions per request" section)`);
process.exit(0);
