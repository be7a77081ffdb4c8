// `npm run bench:memory`: the memory one throttled key costs, this module's MemoryThrottleStore beside
// @nestjs/throttler 6.7's in-memory ThrottlerStorageService, in one process, one after the other.
// Replaces the "Memory per key" section of bench/RESULTS.md (or BENCH_OUT).
//
// Each case fills a fresh store with N distinct clients (one throttle each, keys as each module's
// guard builds them), each with the given number of hits inside the window, then reads the growth
// of the V8 heap and of ArrayBuffer memory after full garbage collections, divided by N. Run with
// --expose-gc (the npm script does).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { MemoryThrottleStore } from '../dist/esm/index.js';
import { loadAverage, runFacts } from './lib/machine.mjs';
import { MEMORY_SECTION, writeSection } from './lib/results-file.mjs';

if (typeof globalThis.gc !== 'function') {
  console.error('bench/memory-footprint.mjs needs node --expose-gc (npm run bench:memory passes it)');
  process.exit(1);
}

const require = createRequire(import.meta.url);
const { ThrottlerStorageService } = require('@nestjs/throttler');

const CASES = [
  { clients: 100_000, hits: 1 },
  { clients: 100_000, hits: 10 },
  { clients: 10_000, hits: 100 },
];
// An hour: the fake clock moves 1 ms per hit, and no hit may leave the window while a case runs.
const WINDOW_MS = 3_600_000;

function address(i) {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

function settle() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

/** Bytes per client that `fill` keeps alive, heap and ArrayBuffers apart. */
async function bytesPerClient(clients, fill) {
  const before = settle();
  const kept = await fill();
  const after = settle();
  const result = { heap: (after.heapUsed - before.heapUsed) / clients, buffers: (after.arrayBuffers - before.arrayBuffers) / clients };
  kept.dispose?.();
  return result;
}

async function ours({ clients, hits }) {
  return bytesPerClient(clients, async () => {
    let now = 1_700_000_000_000;
    const store = new MemoryThrottleStore({ clock: () => now, maxKeys: clients });
    for (let i = 0; i < clients; i++) {
      const ident = address(i);
      // The check the guard builds for UserThrottle.with({ scope: 'hour' }).
      const check = { key: `throttle_hour_${ident}`, windowMs: WINDOW_MS, limit: hits, record: true };
      for (let h = 0; h < hits; h++) {
        now += 1;
        store.hit([check]);
      }
    }
    if (store.size !== clients) throw new Error(`bench: the store holds ${store.size} keys, not ${clients}`);
    return { store };
  });
}

async function theirs({ clients, hits }) {
  return bytesPerClient(clients, async () => {
    const storage = new ThrottlerStorageService();
    for (let i = 0; i < clients; i++) {
      // ThrottlerGuard's default generateKey: sha256 of `${controller}-${handler}-${throttler}-${tracker}`.
      const key = createHash('sha256').update(`BenchController-get-hour-${address(i)}`).digest('hex');
      for (let h = 0; h < hits; h++) await storage.increment(key, WINDOW_MS, hits, 0, 'hour');
    }
    if (storage.storage.size !== clients) throw new Error(`bench: @nestjs/throttler holds ${storage.storage.size} keys, not ${clients}`);
    return { storage, dispose: () => storage.onApplicationShutdown() };
  });
}

const kib = (bytes) => `${Math.round(bytes).toLocaleString('en-US')} B`;
const startedAt = new Date();
const startLoad = loadAverage();
const rows = [];
for (const scenario of CASES) {
  const a = await ours(scenario);
  const b = await theirs(scenario);
  rows.push({ scenario, ours: a, theirs: b });
  console.log(`${scenario.clients} clients x ${scenario.hits} hits: ours ${kib(a.heap + a.buffers)}/client, @nestjs/throttler ${kib(b.heap + b.buffers)}/client`);
}

writeSection(
  MEMORY_SECTION,
  [
    '## Memory per key',
    '',
    'Command: `npm run bench:memory` (`node --expose-gc bench/memory-footprint.mjs`, also part of `npm run bench`). ' +
      'Each case fills a fresh store with distinct clients, one throttle each (keys as each guard builds them), every hit inside the window, ' +
      'and reads the growth of the V8 heap and of ArrayBuffer memory after full garbage collections, per client.',
    runFacts(startedAt, startLoad),
    '',
    '| clients x hits in the window | this module: heap + buffers per client | @nestjs/throttler 6.7 | @nestjs/throttler / this module |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(({ scenario, ours: a, theirs: b }) =>
      `| ${scenario.clients.toLocaleString('en-US')} x ${scenario.hits} | ${kib(a.heap)} + ${kib(a.buffers)} | ${kib(b.heap)} + ${kib(b.buffers)} | ${((b.heap + b.buffers) / (a.heap + a.buffers)).toFixed(2)}x |`,
    ),
    '',
    `- \`maxKeys\` (default 100,000) bounds the memory: about ${Math.round((rows[0].ours.heap * 100_000) / 1e6)} MB at the default for keys with one hit each, plus 8 bytes per hit kept.`,
    '',
  ].join('\n'),
);
