// The measuring schedule every req/s driver shares (bench/run.mjs, bench/compare-builds.mjs,
// bench/redis-bench.mjs): several processes of every server, each warmed up, then rounds in rotating
// order over all of them; a process's figure is its median round, a variant's its median process.
// On these virtual machines one process can run 20-30% slower than another process of the very same
// server for its whole life, so one process per variant could decide a ratio alone.
import { loadServer } from './load.mjs';
import { startServer, stopServer } from './server-process.mjs';
import { median } from './stats.mjs';

/**
 * Starts `processes` processes of every variant (`script` with `argsOf(variant)`, and `envOf(variant)`
 * added to the environment), warms each up, then runs `rounds` rounds of `measure(server, seconds)`
 * over all of them in an order that rotates each round, and stops them whatever happens.
 * `measure` defaults to loadServer() with `connections` and `clients`; `describe(run)` is printed
 * after each round. Resolves with Map(variant id -> one list of rounds per process).
 */
export async function serverRounds({ script, variants, processes, argsOf, envOf = () => ({}), rounds, seconds, warmupSeconds, connections, clients, measure, describe = describeLoad }) {
  const load = measure ?? ((server, seconds) => loadServer(server, { connections, clients, seconds }));
  const instances = [];
  for (let n = 1; n <= processes; n++) for (const variant of variants) instances.push({ id: `${variant.id}#${n}`, variant });
  const servers = new Map();
  try {
    for (const instance of instances) servers.set(instance.id, await startServer(script, argsOf(instance.variant), envOf(instance.variant)));
    for (const instance of instances) {
      const warm = await load(servers.get(instance.id), warmupSeconds);
      console.log(`  warm-up ${instance.id.padEnd(20)} ${Math.round(warm.rps)} req/s`);
    }
    const runs = new Map(instances.map((instance) => [instance.id, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < instances.length; i++) {
        const instance = instances[(i + round) % instances.length];
        const run = await load(servers.get(instance.id), seconds);
        runs.get(instance.id).push(run);
        console.log(`  round ${round + 1} ${instance.id.padEnd(20)} ${Math.round(run.rps)} req/s  ${describe(run)}`);
      }
    }
    const byVariant = new Map(variants.map((variant) => [variant.id, []]));
    for (const instance of instances) byVariant.get(instance.variant.id).push(runs.get(instance.id));
    return byVariant;
  } finally {
    await Promise.all([...servers.values()].map(stopServer));
  }
}

function describeLoad(run) {
  return `${run.cpuPerRequest.toFixed(1)} µs CPU/req  non-2xx ${run.non2xx}  errors ${run.errors}`;
}

/**
 * One figure of a variant from its processes: each process's median round, then the median process.
 * Returns { value, perProcess }.
 */
export function medianProcess(processes, pick) {
  const perProcess = processes.map((rounds) => median(rounds.map(pick)));
  return { value: median(perProcess), perProcess };
}

/** How far a variant's processes spread: the slowest process's figure over the fastest's, minus one. */
export function processSpread(perProcess) {
  return Math.max(...perProcess) / Math.min(...perProcess) - 1;
}
