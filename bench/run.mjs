// `npm run bench` (first part): throughput of a one-route Nest app on Fastify, memory store, side by
// side in one run: no guard, a guard that only writes the two IETF headers (the bound for any
// throttle that sends them), this module with and without headers, and @nestjs/throttler 6.7 with
// the same two limits. Each server runs in its own processes (bench/server.mjs), loaded one at a time
// by autocannon from this process (bench/lib/server-rounds.mjs). Writes the "HTTP, memory store"
// section of bench/RESULTS.md (or BENCH_OUT).
//
// Knobs (environment): BENCH_DURATION (s, default 3), BENCH_WARMUP (s, default 3), BENCH_ROUNDS
// (default 3), BENCH_PROCESSES (default 3), BENCH_CONNECTIONS (default 50), BENCH_SCENARIOS ("a,b,c").
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limitRunTime } from './lib/child-processes.mjs';
import { describeSchedule, scheduleKnobs } from './lib/env.mjs';
import { loadAverage, runFacts } from './lib/machine.mjs';
import { chosenScenarios, MEMORY_VARIANTS } from './lib/memory-variants.mjs';
import { HTTP_SECTION, writeSection } from './lib/results-file.mjs';
import { medianProcess, processSpread, serverRounds } from './lib/server-rounds.mjs';
import { sumOf } from './lib/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SCHEDULE = scheduleKnobs();
limitRunTime('bench', 30 * 60_000);

/** The targets of the project's first benchmark issue, against no guard and @nestjs/throttler. */
// Ratios against @nestjs/throttler set by earlier issues; the share of no guard is reported, not a target (the headers alone cost about 10%).
const TARGETS = { a: { vsThrottler: 1.5 }, b: {}, c: { vsThrottler: 5 } };

async function runScenario(scenario) {
  console.log(`\n${scenario.title}`);
  const processes = await serverRounds({
    script: join(here, 'server.mjs'),
    variants: MEMORY_VARIANTS,
    argsOf: (variant) => [variant.id, JSON.stringify(scenario.limits)],
    ...SCHEDULE,
    clients: scenario.clients,
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
  return table(scenario, new Map(rows.map((row) => [row.variant.id, row])), rows);
}

function table(scenario, byId, rows) {
  const none = byId.get('none');
  const theirs = byId.get('nestjs-throttler');
  const ours = byId.get('ours');
  const share = (id) => `${((byId.get(id).rps.value / none.rps.value) * 100).toFixed(1)}%`;
  const widest = rows.reduce((a, b) => (processSpread(b.cpu.perProcess) > processSpread(a.cpu.perProcess) ? b : a));
  const targets = TARGETS[scenario.id];
  const verdicts = [];
  if (targets.vsThrottler) verdicts.push(`>= ${targets.vsThrottler}x @nestjs/throttler: ${ours.rps.value / theirs.rps.value >= targets.vsThrottler ? 'met' : 'missed'}`);
  return [
    `### ${scenario.title}`,
    '',
    '| server | req/s (median process) | each process | vs no guard | vs @nestjs/throttler | server CPU µs/req | CPU vs no guard | non-2xx + errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.variant.label} | ${Math.round(row.rps.value).toLocaleString('en-US')} | ${row.rps.perProcess.map((rps) => Math.round(rps).toLocaleString('en-US')).join(', ')} | ` +
        `${((row.rps.value / none.rps.value) * 100).toFixed(1)}% | ${(row.rps.value / theirs.rps.value).toFixed(2)}x | ${row.cpu.value.toFixed(1)} | ` +
        `${((none.cpu.value / row.cpu.value) * 100).toFixed(1)}% | ${row.failed} |`,
    ),
    '',
    `- This module: ${share('ours')} of no guard (${share('ours-no-headers')} with \`headers: false\`, ${share('ours-metrics')} with Prometheus metrics on; the header-only guard ${share('header-writing-guard')}), ` +
      `${(ours.rps.value / theirs.rps.value).toFixed(2)}x @nestjs/throttler by req/s, ${(theirs.cpu.value / ours.cpu.value).toFixed(2)}x by CPU per request.${verdicts.length === 0 ? '' : ` Target: ${verdicts.join('; ')}.`}`,
    `- Widest spread between processes of one server: ${widest.variant.id}, ${(processSpread(widest.cpu.perProcess) * 100).toFixed(0)}% in CPU per request.`,
    '',
  ].join('\n');
}

const startedAt = new Date();
const startLoad = loadAverage();
const tables = [];
for (const scenario of chosenScenarios()) tables.push(await runScenario(scenario));
writeSection(
  HTTP_SECTION,
  [
    '## HTTP, memory store',
    '',
    `Command: \`npm run bench\` (this part: \`node bench/run.mjs\`), ${describeSchedule(SCHEDULE)}. Took ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s.`,
    runFacts(startedAt, startLoad),
    '',
    ...tables,
  ].join('\n'),
);
process.exit(0);
