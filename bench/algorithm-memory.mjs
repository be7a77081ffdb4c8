// `npm run bench:algorithms` (first part; also in `npm run bench`): the memory one idle key costs
// under each counting algorithm, at two limits, with 1,000,000 keys held at once: in the memory store
// (V8 heap growth after full garbage collections) and in Redis (MEMORY USAGE over a sample of keys,
// and the growth of used_memory), on a redis-server this script starts for itself. Every key is
// `throttle_user_<n>` with one hit, checked by the store's hit() as a throttle would. Writes the
// "Memory per idle key, each algorithm" section of bench/RESULTS.md (or BENCH_OUT).
//
// Knobs (environment): BENCH_KEYS (default 1000000), BENCH_SAMPLES (keys MEMORY USAGE reads, default
// 2000), BENCH_ALGORITHMS (default sliding-log,fixed-window,sliding-window,gcra).
// Run with --expose-gc (the npm scripts do).
import { Redis } from 'ioredis';
import { MemoryThrottleStore, RedisThrottleStore } from '../dist/esm/index.js';
import { limitRunTime } from './lib/child-processes.mjs';
import { chosenAlgorithms, positiveInteger } from './lib/env.mjs';
import { loadAverage, runFacts } from './lib/machine.mjs';
import { startRedis, usedMemory } from './lib/redis-server.mjs';
import { ALGORITHM_MEMORY_SECTION, writeSection } from './lib/results-file.mjs';

if (typeof globalThis.gc !== 'function') {
  console.error('bench/algorithm-memory.mjs needs node --expose-gc (npm run bench:algorithms passes it)');
  process.exit(1);
}
limitRunTime('bench:algorithm-memory', 15 * 60_000);

const KEYS = positiveInteger('BENCH_KEYS', 1_000_000);
const SAMPLES = Math.min(KEYS, positiveInteger('BENCH_SAMPLES', 2_000));
const ALGORITHMS = chosenAlgorithms();
const LIMITS = [
  { rate: '10/min', limit: 10, windowMs: 60_000 },
  { rate: '10000/hour', limit: 10_000, windowMs: 3_600_000 },
];
/** Targets of issue 21, bytes per idle key of a counter algorithm. */
const TARGETS = { memory: 120, redisMemoryUsage: 100 };
/** Hits sent to Redis at once while filling it (the store coalesces them into few writes). */
const IN_FLIGHT = 2_000;

const keyOf = (n) => `throttle_user_${n}`;
const checkOf = (n, algorithm, { limit, windowMs }) => ({ key: keyOf(n), limit, windowMs, record: true, algorithm });

/** A counter algorithm always reports an outcome: without one, the store in dist/ counted a sliding log. */
function assertCounted(result, algorithm) {
  if (algorithm !== 'sliding-log' && result.outcome === undefined) {
    throw new Error(`bench: the built store does not count '${algorithm}' (no outcome): build a checkout with the algorithms wired into the stores`);
  }
}

function settledHeap() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** Bytes per key the memory store keeps for KEYS keys with one hit each, nothing expiring (the clock stands still). */
function memoryStoreBytes(algorithm, limits) {
  const now = 1_700_000_000_000;
  const before = settledHeap();
  const store = new MemoryThrottleStore({ clock: () => now, maxKeys: KEYS + 1 });
  assertCounted(store.hit([checkOf(0, algorithm, limits)])[0], algorithm);
  for (let n = 1; n < KEYS; n++) store.hit([checkOf(n, algorithm, limits)]);
  const after = settledHeap();
  if (store.size !== KEYS) throw new Error(`bench: the memory store holds ${store.size} keys, not ${KEYS}`);
  store.close();
  return (after - before) / KEYS;
}

/**
 * The floor under any store keyed this way: the key strings alone, built the same way (an array
 * slot of 8 B each taken off), and a Map from them to small integers (no object per key).
 */
function keyFloorBytes() {
  let before = settledHeap();
  const keys = new Array(KEYS);
  for (let n = 0; n < KEYS; n++) keys[n] = keyOf(n);
  const strings = (settledHeap() - before) / KEYS - 8;
  keys.length = 0;
  before = settledHeap();
  const map = new Map();
  for (let n = 0; n < KEYS; n++) map.set(keyOf(n), n);
  const mapped = (settledHeap() - before) / KEYS;
  map.clear();
  return { strings, mapped };
}

/**
 * Bytes per key in Redis for KEYS keys with one hit each: MEMORY USAGE (the key, its value and its
 * dict entry, as Redis counts them) averaged over SAMPLES keys spread over the range, and the growth
 * of used_memory over the keys (also the dict's buckets and the expiry entries). Active expiry is
 * paused for the fill, so keys whose retention is seconds (gcra at 10/min keeps an idle key 6 s)
 * are all held when measured.
 */
async function redisBytes(redis, store, algorithm, limits) {
  await redis.admin.flushdb();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = await usedMemory(redis.admin);
  assertCounted((await store.hit([checkOf(0, algorithm, limits)]))[0], algorithm);
  for (let start = 1; start < KEYS; start += IN_FLIGHT) {
    const batch = [];
    for (let n = start; n < Math.min(KEYS, start + IN_FLIGHT); n++) batch.push(store.hit([checkOf(n, algorithm, limits)]));
    await Promise.all(batch);
  }
  // Let the incremental rehash of the key space finish before reading.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const held = await redis.admin.dbsize();
  const after = await usedMemory(redis.admin);
  const sampled = [];
  for (let i = 0; i < SAMPLES; i++) sampled.push(redis.admin.memory('USAGE', store.keyOf(keyOf(Math.floor((i * KEYS) / SAMPLES)), algorithm), 'SAMPLES', '0'));
  const usages = (await Promise.all(sampled)).filter((bytes) => bytes !== null);
  if (held < KEYS || usages.length < SAMPLES) throw new Error(`bench: Redis holds ${held} keys (${usages.length} of ${SAMPLES} sampled), not ${KEYS}`);
  await redis.admin.flushdb();
  return { memoryUsage: usages.reduce((sum, bytes) => sum + bytes, 0) / usages.length, usedMemory: (after - before) / held };
}

const startedAt = new Date();
const startLoad = loadAverage();
const rows = [];
const floor = keyFloorBytes();
console.log(`key strings alone: ${floor.strings.toFixed(1)} B/key, in a Map to integers: ${floor.mapped.toFixed(1)} B/key`);
for (const algorithm of ALGORITHMS) {
  for (const limits of LIMITS) {
    const bytes = memoryStoreBytes(algorithm, limits);
    console.log(`memory store  ${algorithm.padEnd(15)} ${limits.rate.padEnd(11)} ${bytes.toFixed(1)} B/key`);
    rows.push({ algorithm, limits, memory: bytes });
  }
}
const redis = await startRedis('bench:algorithm-memory', ['--enable-debug-command', 'local']);
const client = new Redis(redis.url);
try {
  await redis.admin.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  const store = new RedisThrottleStore(client);
  for (const row of rows) {
    const started = Date.now();
    Object.assign(row, await redisBytes(redis, store, row.algorithm, row.limits));
    console.log(`redis         ${row.algorithm.padEnd(15)} ${row.limits.rate.padEnd(11)} MEMORY USAGE ${row.memoryUsage.toFixed(1)} B/key, used_memory ${row.usedMemory.toFixed(1)} B/key (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
} finally {
  client.disconnect();
  redis.stop();
}

const bytes = (value) => `${Math.round(value).toLocaleString('en-US')} B`;
const counters = rows.filter((row) => row.algorithm !== 'sliding-log');
/** "<the largest counter figure> at most (<its algorithm>), target <= N B: met|missed". */
function verdict(pick, target) {
  const worst = counters.reduce((a, b) => (pick(b) > pick(a) ? b : a));
  return `${bytes(pick(worst))} at most (${worst.algorithm}), target <= ${target} B: ${pick(worst) <= target ? 'met' : 'missed'}`;
}
/** The widest difference between the two limits of one algorithm. */
const spread = (pick) =>
  Math.max(...ALGORITHMS.map((algorithm) => {
    const [a, b] = rows.filter((row) => row.algorithm === algorithm).map(pick);
    return Math.abs(a - b);
  }));
const readings = [
  `- Independence of the limit: the two limits differ by at most ${bytes(spread((row) => row.memory))} per key in the memory store and ${bytes(spread((row) => row.memoryUsage))} in Redis, any algorithm (a sliding log grows with its hits instead: see the next table).`,
  `- The floor of a store keyed by these strings: the string \`throttle_user_<n>\` alone takes ${bytes(floor.strings)} (as built here, a concatenation), ` +
    `and in a Map to an integer ${bytes(floor.mapped)}; the rest of a memory-store figure is the store's own entry.`,
];
if (counters.length > 0) {
  readings.unshift(
    `- Counter algorithms, memory store: ${verdict((row) => row.memory, TARGETS.memory)}. Redis MEMORY USAGE: ${verdict((row) => row.memoryUsage, TARGETS.redisMemoryUsage)}.`,
  );
}
writeSection(
  ALGORITHM_MEMORY_SECTION,
  [
    '## Memory per idle key, each algorithm',
    '',
    `Command: \`npm run bench:algorithms\` (this part: \`node --expose-gc bench/algorithm-memory.mjs\`, also part of \`npm run bench\`). ` +
      `${KEYS.toLocaleString('en-US')} keys \`throttle_user_<n>\`, one hit each, held at once (the memory store's clock stands still, Redis's active expiry is paused). ` +
      `Memory store: growth of the V8 heap + ArrayBuffers after full garbage collections, per key. Redis (\`RedisThrottleStore\`, default key prefix): ` +
      `\`MEMORY USAGE <key> SAMPLES 0\` averaged over ${SAMPLES.toLocaleString('en-US')} keys, and the growth of \`used_memory\` per key (with the key space's buckets and expiry entries).`,
    runFacts(startedAt, startLoad),
    '',
    '| algorithm | limit | memory store, B/key | Redis MEMORY USAGE, B/key | Redis used_memory growth, B/key |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row.algorithm}${row.algorithm === 'sliding-log' ? ' (one hit)' : ''} | ${row.limits.rate} | ${bytes(row.memory)} | ${bytes(row.memoryUsage)} | ${bytes(row.usedMemory)} |`),
    '',
    ...readings,
    '',
  ].join('\n'),
);
process.exit(0);
