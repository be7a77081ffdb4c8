// The Redis-store servers (bench/redis-bench-server.mjs builds each) and their limits, shared by
// bench/redis-bench.mjs (req/s, CPU, commands) and bench/redis-instructions.mjs (instruction counts).

export const REDIS_VARIANTS = [
  { id: 'ours', label: 'nestjs-throttling, RedisThrottleStore (ioredis), 2 throttles' },
  // The same store writing each call at once (ioredis's own behaviour): what one write per turn saves.
  { id: 'ours-write-each', label: 'nestjs-throttling, same, `coalesceWrites: false`' },
  { id: 'nestjs-throttler', label: '@nestjs/throttler 6.7 + @nest-lab/throttler-storage-redis 1.2, 2 throttlers' },
];

/** Limits no client reaches during a run: the allow path is measured, as in bench/run.mjs. */
export const REDIS_LIMITS = { minute: 100, hour: 1_000 };
