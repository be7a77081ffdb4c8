// The req/s schedule of the memory-store drivers (bench/run.mjs, bench/compare-builds.mjs): several
// processes of every server variant, loaded turn about, stopped whatever happens.
import { loadServer } from './load.mjs';
import { processInstances, rotatingRounds, roundsByProcess } from './rounds.mjs';
import { startServer, stopServer } from './server-process.mjs';

/**
 * Starts `processes` processes of every variant (`script` with `argsOf(variant)`, and `envOf(variant)`
 * added to the environment), loads them in rotatingRounds() with `connections` connections from
 * `clients` clients, and stops them. Resolves with Map(variant id -> one list of rounds per process).
 */
export async function serverRounds({ script, variants, processes, argsOf, envOf = () => ({}), rounds, seconds, warmupSeconds, connections, clients }) {
  const instances = processInstances(variants, processes);
  const servers = new Map();
  try {
    for (const instance of instances) servers.set(instance.id, await startServer(script, argsOf(instance.variant), envOf(instance.variant)));
    const runs = await rotatingRounds({
      variants: instances,
      rounds,
      seconds,
      warmupSeconds,
      measure: (instance, seconds) => loadServer(servers.get(instance.id), { connections, clients, seconds }),
      describe: (run) => `${run.cpuPerRequest.toFixed(1)} µs CPU/req  non-2xx ${run.non2xx}  errors ${run.errors}`,
    });
    return roundsByProcess(variants, instances, runs);
  } finally {
    await Promise.all([...servers.values()].map(stopServer));
  }
}
