// One autocannon load on a server that counts in Redis (bench/redis-bench-server.mjs), divided by the
// requests the app received: app and Redis CPU, and the Redis commands the app sent, per request.
import { loadClients } from './load.mjs';
import { redisCounters } from './redis-server.mjs';
import { serverStats } from './server-process.mjs';

/**
 * Loads `server` for `seconds` from `clients` clients numbered from `firstClient` (fresh ones keep
 * every client under its limits; one, reused, floods over them). Resolves with { rps, handled,
 * denied (429s), failed (other non-2xx, errors, timeouts), commands, appCpuUs, redisCpuUs }.
 */
export async function loadOnRedis({ server, admin, connections, clients, firstClient, seconds }) {
  const [appBefore, redisBefore] = [await serverStats(server), await redisCounters(admin)];
  const result = await loadClients({ port: server.port, connections, clients, seconds, firstClient });
  // Let the requests still in flight when the load stopped finish, then read both sides.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [appAfter, redisAfter] = [await serverStats(server), await redisCounters(admin)];
  const handled = Math.max(1, appAfter.handled - appBefore.handled);
  const denied = result.statusCodeStats?.['429']?.count ?? 0;
  return {
    rps: result.requests.average,
    handled,
    denied,
    failed: result.non2xx - denied + result.errors + result.timeouts,
    commands: redisAfter.commands - redisBefore.commands,
    appCpuUs: (appAfter.cpuMicros - appBefore.cpuMicros) / handled,
    redisCpuUs: (redisAfter.cpuMicros - redisBefore.cpuMicros) / handled,
  };
}
