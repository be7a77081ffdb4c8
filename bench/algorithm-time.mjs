// `npm run bench:algorithms` (second part; also in `npm run bench`): is the time of one check the
// same at limit 10 and at limit 10,000,000, for each counting algorithm? MemoryThrottleStore.hit()
// on one hot key, and on 100,000 keys in turn, each key checked at 80% of its rate (a minute window),
// so every check is allowed and, where the run is long enough, the window is full: the steady state
// of a busy client. Each algorithm x key pattern runs in a process of its own (as an app uses one
// algorithm), with the limits measured turn about in rotating order; a limit's figure is its median
// round. Then the heap each key holds at each limit (a sliding log keeps its hits; counters do not).
// Writes the "Time per check, each algorithm" section of bench/RESULTS.md (or BENCH_OUT).
//
// Knobs (environment): BENCH_TIME_ROUNDS (default 15), BENCH_TIME_CHECKS (checks per round, default 1000000),
// BENCH_ALGORITHMS (default all four).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MemoryThrottleStore } from '../dist/esm/index.js';
import { limitRunTime, ownChild } from './lib/child-processes.mjs';
import { chosenAlgorithms, positiveInteger } from './lib/env.mjs';
import { loadAverage, runFacts } from './lib/machine.mjs';
import { ALGORITHM_TIME_SECTION, writeSection } from './lib/results-file.mjs';
import { median } from './lib/stats.mjs';

const LIMITS = [10, 1_000, 100_000, 10_000_000];
const WINDOW_MS = 60_000;
/** Each key is checked at this share of its limit per window: always allowed, the window full once a window has passed. */
const RATE_SHARE = 0.8;
/**
 * A counter key idle between two checks is forgotten (gcra keeps it until its TAT, a fixed window
 * until the window ends) and created again by the next: at low limits a client at 80% of its rate
 * is idle between requests. For contrast, one more run on the hot key at limit 10 and its full rate,
 * so the key is never idle.
 */
const BUSY = { limit: 10, share: 1 };
/**
 * `warmup`: at most this many checks per limit before measuring, enough to fill the windows where a
 * run can (a hot key's at 10,000,000: 8,000,000 checks; 100,000 keys' at 10: 800,000).
 */
const PATTERNS = [
  { id: 'hot', keys: 1, label: 'one hot key', warmup: 10_000_000 },
  { id: 'many', keys: 100_000, label: '100,000 keys in turn', warmup: 1_000_000 },
];
const ROUNDS = positiveInteger('BENCH_TIME_ROUNDS', 15);
const CHECKS = positiveInteger('BENCH_TIME_CHECKS', 1_000_000);
/** Target of issue 21: the slowest limit within 10% of the fastest. */
const TARGET_RATIO = 1.1;

/** One limit's store, its checks (one per key, reused, as the store sees them) and its clock. */
function bench(algorithm, pattern, limit, share = RATE_SHARE) {
  const checks = [];
  for (let k = 0; k < pattern.keys; k++) checks.push({ key: `throttle_user_${k}`, limit, windowMs: WINDOW_MS, record: true, algorithm });
  const start = 1_700_000_000_000;
  const msPerCheck = WINDOW_MS / (share * limit * pattern.keys);
  const state = { done: 0, allowed: 0, now: start };
  // In an object the caller can empty, so the store can be released while the checks (and their key strings) stay.
  const held = { store: new MemoryThrottleStore({ clock: () => state.now, maxKeys: pattern.keys + 1 }) };
  const first = held.store.hit([checks[0]])[0];
  if (algorithm !== 'sliding-log' && first.outcome === undefined) {
    throw new Error(`bench: the built store does not count '${algorithm}' (no outcome): build a checkout with the algorithms wired into the stores`);
  }
  /** Runs `count` checks in turn over the keys, the clock moving at `share` of the rate; returns ns per check. */
  const run = (count) => {
    const store = held.store;
    const began = process.hrtime.bigint();
    let allowed = 0;
    for (let i = 0; i < count; i++) {
      const done = state.done + i;
      state.now = start + Math.floor(done * msPerCheck);
      if (store.hit([checks[done % pattern.keys]])[0].allowed) allowed++;
    }
    const ns = Number(process.hrtime.bigint() - began) / count;
    state.done += count;
    state.allowed += allowed;
    return ns;
  };
  return { limit, held, state, run };
}

function settledHeap() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** In a child: every limit of one algorithm and pattern, turn about; sends the figures to the parent. */
function measure(algorithm, pattern) {
  const benches = LIMITS.map((limit) => bench(algorithm, pattern, limit));
  const busy = pattern.keys === 1 && algorithm !== 'sliding-log' ? bench(algorithm, pattern, BUSY.limit, BUSY.share) : null;
  if (busy !== null) benches.push(busy);
  for (const b of benches) b.run(Math.min(pattern.warmup, Math.ceil(RATE_SHARE * b.limit * pattern.keys)));
  const rounds = benches.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < benches.length; i++) {
      const index = (i + round) % benches.length;
      rounds[index].push(benches[index].run(CHECKS));
    }
  }
  // The heap each store holds, beyond the key strings (the checks keep them): released one at a time.
  const bytes = [];
  for (const b of benches) {
    const before = settledHeap();
    b.held.store = null;
    bytes.push((before - settledHeap()) / pattern.keys);
  }
  const figures = benches.map((b, i) => ({
    limit: b.limit,
    ns: median(rounds[i]),
    allowedShare: b.state.allowed / b.state.done,
    windowFull: b.state.done >= RATE_SHARE * b.limit * pattern.keys,
    bytesPerKey: bytes[i],
  }));
  return { figures: figures.slice(0, LIMITS.length), busy: busy === null ? null : figures.at(-1) };
}

if (process.argv[2] === '--child') {
  const [algorithm, patternId] = process.argv.slice(3);
  process.send(measure(algorithm, PATTERNS.find((pattern) => pattern.id === patternId)));
  process.exit(0);
}

/** Runs one algorithm and pattern in a fresh process (node --expose-gc) and resolves with its figures. */
function inChild(algorithm, pattern) {
  return new Promise((resolve, reject) => {
    const child = ownChild(fork(fileURLToPath(import.meta.url), ['--child', algorithm, pattern.id], { execArgv: ['--expose-gc'] }));
    child.once('message', resolve);
    child.once('exit', (code) => code !== 0 && reject(new Error(`bench: the ${algorithm} / ${pattern.id} process exited with code ${code}`)));
  });
}

limitRunTime('bench:algorithm-time', 10 * 60_000);
const startedAt = new Date();
const startLoad = loadAverage();
const rows = [];
for (const algorithm of chosenAlgorithms()) {
  for (const pattern of PATTERNS) {
    const { figures, busy } = await inChild(algorithm, pattern);
    const ratio = Math.max(...figures.map((f) => f.ns)) / Math.min(...figures.map((f) => f.ns));
    rows.push({ algorithm, pattern, figures, ratio, busy });
    console.log(`${algorithm.padEnd(15)} ${pattern.id.padEnd(5)} ${figures.map((f) => `${f.limit}: ${f.ns.toFixed(0)} ns, ${f.bytesPerKey.toFixed(0)} B/key`).join('  ')}  max/min ${ratio.toFixed(3)}${busy === null ? '' : `  (limit 10 at its full rate: ${busy.ns.toFixed(0)} ns)`}`);
  }
}

const count = (n) => n.toLocaleString('en-US');
const limitHeads = LIMITS.map((limit) => `limit ${count(limit)}`).join(' | ');
const align = LIMITS.map(() => '---:').join(' | ');
const counters = rows.filter((row) => row.algorithm !== 'sliding-log');
const verdicts = rows.map((row) => `${row.algorithm} ${row.pattern.id} ${row.ratio.toFixed(2)}`).join(', ');
const missed = rows.filter((row) => row.ratio > TARGET_RATIO);
const notAllowed = rows.flatMap((row) => row.figures.filter((f) => f.allowedShare < 1).map((f) => `${row.algorithm} ${row.pattern.id} at ${count(f.limit)}: ${(f.allowedShare * 100).toFixed(2)}%`));
const filled = (rows.find((row) => row.pattern.id === 'many')?.figures ?? []).filter((f) => f.windowFull).map((f) => count(f.limit));
const busyRows = rows
  .filter((row) => row.busy !== null)
  .map((row) => ({
    busy:
      `- ${row.algorithm}, one hot key at limit 10 checked at its full rate (never idle, so never forgotten): ${row.busy.ns.toFixed(0)} ns per check ` +
      `(${(row.busy.allowedShare * 100).toFixed(1)}% allowed), against ${row.figures[0].ns.toFixed(0)} ns at 80% and ${row.figures.at(-1).ns.toFixed(0)} ns at limit ${count(LIMITS.at(-1))}.`,
  }));
const logRow = rows.find((row) => row.algorithm === 'sliding-log' && row.pattern.id === 'hot');
writeSection(
  ALGORITHM_TIME_SECTION,
  [
    '## Time per check, each algorithm',
    '',
    `Command: \`npm run bench:algorithms\` (this part: \`node bench/algorithm-time.mjs\`, also part of \`npm run bench\`). ` +
      `\`MemoryThrottleStore.hit([check])\` on a fake clock the script moves, each key checked at ${RATE_SHARE * 100}% of its limit per minute; ` +
      `per limit a warm-up that fills the window where it can (up to ${PATTERNS.map((p) => `${count(p.warmup)} checks for ${p.label}`).join(', ')}), then ${ROUNDS} rounds of ${count(CHECKS)} checks, the limits turn about; median round. ` +
      `One process per algorithm and key pattern.`,
    runFacts(startedAt, startLoad),
    '',
    `| algorithm | keys | ns per check: ${limitHeads} | slowest / fastest |`,
    `| --- | --- | ${align} | ---: |`,
    ...rows.map((row) => `| ${row.algorithm} | ${row.pattern.label} | ${row.figures.map((f) => f.ns.toFixed(0)).join(' | ')} | ${row.ratio.toFixed(2)}x |`),
    '',
    `| algorithm | keys | store heap per key after the run (key string aside): ${limitHeads} |`,
    `| --- | --- | ${align} |`,
    // One hot key's few bytes are below the heap's noise; its sliding log is read below.
    ...rows.filter((row) => row.pattern.keys > 1).map((row) => `| ${row.algorithm} | ${row.pattern.label} | ${row.figures.map((f) => `${count(Math.round(f.bytesPerKey))} B`).join(' | ')} |`),
    '',
    `- Slowest over fastest limit (target <= ${TARGET_RATIO.toFixed(2)}x): ${verdicts}: ${missed.length === 0 ? 'met' : `missed by ${missed.map((row) => `${row.algorithm} ${row.pattern.id}`).join(', ')}`}.`,
    `- Every check allowed${notAllowed.length === 0 ? '' : `, except: ${notAllowed.join('; ')}`}. ` +
      `With 100,000 keys the run fills the windows at limit ${filled.join(', ') || 'none'} only (at the higher limits each key holds the hits of the run so far); one hot key's window is full at every limit.`,
    ...busyRows.map((row) => row.busy),
    ...(logRow === undefined
      ? []
      : [
          // Below 100,000 a single key's bytes are within the heap's noise.
          `- The sliding log's time stays flat while its memory follows the limit: one hot key holds ${logRow.figures.filter((f) => f.limit >= 100_000).map((f) => `${count(Math.round(f.bytesPerKey))} B at ${count(f.limit)}`).join(' and ')} ` +
            `(8 B per hit kept)${counters.length > 0 ? '; a counter key holds the same few bytes at every limit (table above)' : ''}.`,
        ]),
    '',
  ].join('\n'),
);
process.exit(0);
