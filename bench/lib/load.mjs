// Load from many simulated clients behind one proxy: autocannon, each request carrying its client's
// address in X-Forwarded-For.
import autocannon from 'autocannon';
import { serverStats } from './server-process.mjs';

/** The address of the i-th simulated client, as its proxy would append it to X-Forwarded-For. */
export function clientAddress(i) {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

/**
 * One autocannon load of GET / on 127.0.0.1:port for `seconds`, resolving with autocannon's result.
 * Connection k cycles through clients k, k + C, k + 2C, ... (numbered from `firstClient`), so every
 * client is seen evenly and each request is prebuilt (no per-request setup in the load generator).
 */
export function loadClients({ port, connections, clients, seconds, firstClient = 0 }) {
  let nextConnection = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    setupClient(client) {
      const k = nextConnection++;
      const requests = [];
      for (let i = k % clients; i < clients; i += connections) {
        requests.push({ method: 'GET', path: '/', headers: { 'x-forwarded-for': clientAddress(firstClient + i) } });
      }
      client.setRequests(requests);
    },
  });
}

/**
 * One load on a server of bench/lib/server-process.mjs, with the server's own CPU time per response:
 * { rps, cpuPerRequest, total, ok, non2xx, errors, timeouts }.
 */
export async function loadServer(server, { connections, clients, seconds }) {
  const cpuBefore = (await serverStats(server)).cpuMicros;
  const result = await loadClients({ port: server.port, connections, clients, seconds });
  const cpuMicros = (await serverStats(server)).cpuMicros - cpuBefore;
  return {
    rps: result.requests.average,
    cpuPerRequest: cpuMicros / Math.max(1, result.requests.total),
    total: result.requests.total,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
