// `npm run bench:compare -- [git ref]`: this module as built from a commit (default HEAD) against
// the build of this working tree, side by side in one run, on the memory-store scenarios of
// bench/run.mjs. On these machines the noise between two runs is as large as most changes to the hot
// path, so a change is judged by the ratio of the two builds measured turn about, never by comparing
// one run's figure with another's. Prints medians and ratios; writes no file.
//
// The commit's lib/ and TypeScript configs are taken with `git archive` into bench/.builds/<commit>/
// (git-ignored) and built there once, with this checkout's TypeScript and node_modules; the servers
// are bench/server.mjs with BENCH_DIST pointing at that build.
//
// Knobs (environment): BENCH_COMPARE_VARIANT (the server variant to run on both builds: ours, the
// default, or ours-no-headers), BENCH_SCENARIOS (default a,b,c), BENCH_ROUNDS (default 4),
// BENCH_PROCESSES (default 3), BENCH_DURATION (s, default 3), BENCH_WARMUP (s, default 3),
// BENCH_CONNECTIONS (default 50).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limitRunTime } from './lib/child-processes.mjs';
import { describeSchedule, scheduleKnobs } from './lib/env.mjs';
import { machineFacts } from './lib/machine.mjs';
import { chosenScenarios } from './lib/memory-variants.mjs';
import { medianProcess, serverRounds } from './lib/server-rounds.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const SCHEDULE = scheduleKnobs({ rounds: 4 });
const VARIANT = process.env.BENCH_COMPARE_VARIANT ?? 'ours';
if (VARIANT !== 'ours' && VARIANT !== 'ours-no-headers') {
  throw new Error(`bench:compare: BENCH_COMPARE_VARIANT must be 'ours' or 'ours-no-headers', got '${VARIANT}'`);
}
const SCENARIOS = chosenScenarios();
limitRunTime('bench:compare', 30 * 60_000);

/**
 * The commit's build of the library (its tsconfig.build.json: the ES module build), made once: the
 * path of its entry, dist/esm/index.js, or dist/index.js for commits before the dual package.
 */
function buildOf(ref) {
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  const dir = join(here, '.builds', commit);
  const entryOf = () => [join(dir, 'dist', 'esm', 'index.js'), join(dir, 'dist', 'index.js')].find((path) => existsSync(path));
  if (entryOf() === undefined) {
    mkdirSync(dir, { recursive: true });
    const archive = execFileSync('git', ['archive', commit, 'lib', 'tsconfig.json', 'tsconfig.build.json'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.build.json')], { stdio: 'inherit' });
  }
  return { commit, entry: entryOf() };
}

function git(...args) {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
}

const ref = process.argv[2] ?? 'HEAD';
const base = buildOf(ref);
console.log(`Building this working tree (npm run build) to compare with ${ref} (${base.commit.slice(0, 12)})`);
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

const BUILDS = [
  { id: 'ref', label: `${ref} (${base.commit.slice(0, 12)})`, env: { BENCH_DIST: base.entry } },
  { id: 'work', label: 'this working tree', env: {} },
];

console.log(`Machine: ${machineFacts()}. Variant '${VARIANT}' on both builds; ${describeSchedule(SCHEDULE)}.`);
for (const scenario of SCENARIOS) {
  console.log(`\n${scenario.title}`);
  const processes = await serverRounds({
    script: join(here, 'server.mjs'),
    variants: BUILDS,
    argsOf: () => [VARIANT, JSON.stringify(scenario.limits)],
    envOf: (build) => build.env,
    ...SCHEDULE,
    clients: scenario.clients,
  });
  const [before, after] = BUILDS.map((build) => ({
    build,
    rps: medianProcess(processes.get(build.id), (run) => run.rps),
    cpu: medianProcess(processes.get(build.id), (run) => run.cpuPerRequest),
  }));
  for (const { build, rps, cpu } of [before, after]) {
    console.log(
      `  ${build.label.padEnd(28)} ${Math.round(rps.value).toString().padStart(6)} req/s  ${cpu.value.toFixed(2)} µs CPU/req` +
        `   processes: ${rps.perProcess.map((value) => Math.round(value)).join(', ')} req/s, ${cpu.perProcess.map((value) => value.toFixed(1)).join(', ')} µs CPU/req`,
    );
  }
  console.log(
    `  this working tree / ${ref}: ${(after.rps.value / before.rps.value).toFixed(3)}x req/s, ` +
      `${(before.cpu.value / after.cpu.value).toFixed(3)}x by CPU per request`,
  );
}
process.exit(0);
