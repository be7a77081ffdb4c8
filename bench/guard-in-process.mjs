// `npm run bench:guard`: what ThrottlingGuard.canActivate() costs per call inside one process, with the
// CPU caches warm (calls back to back) and cold (each call after other work has pushed the guard's code
// and data out of them, as the HTTP stack does between two requests of a real server). Replaces the
// "The guard in one process" section of bench/RESULTS.md (or BENCH_OUT). Each setup (headers on or off, one
// client or 10,000) runs in a fresh child process.
//
// It explains why time per request in the HTTP benchmark does not follow instruction counts: the same
// instructions take several times longer when what they read is no longer in the caches.
//
// Each call gets a fresh request (X-Forwarded-For from one client, or from 10,000 in turn) and a reply
// that stores headers as Fastify's does. Every call is timed on its own (process.hrtime.bigint()),
// and a guard that returns true, timed the same way under the same conditions, is subtracted: what
// remains is this module's own work. Each figure is the median of five alternating slices.
// Knobs: BENCH_GUARD_CALLS (warm calls, default 300,000; cold runs use a tenth of it).
import 'reflect-metadata';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { ThrottlingGuard, ThrottlingModule, UserThrottle } from '../dist/esm/index.js';
import { HelloController } from './lib/bench-server.mjs';
import { positiveInteger } from './lib/env.mjs';
import { clientAddress } from './lib/load.mjs';
import { machineFacts } from './lib/machine.mjs';
import { median } from './lib/stats.mjs';
import { GUARD_SECTION, resultsPath, writeSection } from './lib/results-file.mjs';

const WARM_CALLS = positiveInteger('BENCH_GUARD_CALLS', 300_000);
/** Each figure is the median of this many alternating slices of the guard and of the baseline. */
const REPEATS = 5;
/** Kilobytes of other memory walked between two calls; 0 = warm. Here a core has 512 KiB of L2 cache and shares 16 MiB of L3 (lscpu). */
const EVICTIONS = [0, 512, 2048];

/** A reply that keeps headers as Fastify's does: lower-cased names on a plain object. */
class FakeReply {
  constructor() {
    this.headers = {};
  }
  header(name, value) {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
}

class FakeRequest {
  constructor(forwardedFor) {
    this.headers = { host: '127.0.0.1', 'x-forwarded-for': forwardedFor };
    this.raw = {};
    this.socket = { remoteAddress: '127.0.0.1' };
  }
}

class AllowAllGuard {
  canActivate() {
    return true;
  }
}

async function throttlingGuard(headers) {
  class GuardModule {}
  Module({
    imports: [
      ThrottlingModule.forRoot({
        // Limits no client reaches: the allow path, as in the HTTP benchmark.
        defaultThrottles: [UserThrottle.with({ scope: 'minute', rate: '1000000000/min' }), UserThrottle.with({ scope: 'hour', rate: '1000000000/hour' })],
        numProxies: 1,
        headers,
      }),
    ],
    controllers: [HelloController],
  })(GuardModule);
  const app = await NestFactory.createApplicationContext(GuardModule, { logger: false });
  return { guard: app.get(ThrottlingGuard), close: () => app.close() };
}

const junk = new Uint8Array(Math.max(...EVICTIONS) * 1024);
let junkSum = 0;

/** Reads and writes one byte per cache line of the first `kilobytes` of junk. */
function evict(kilobytes) {
  const end = kilobytes * 1024;
  for (let i = 0; i < end; i += 64) junkSum += junk[i]++;
}

/** Mean ns per canActivate() call over `calls` calls, each timed alone. */
function timeCalls(guard, clients, calls, evictKilobytes) {
  const handler = HelloController.prototype.hello;
  let spent = 0n;
  let allowed = 0;
  for (let i = 0; i < calls; i++) {
    const context = new ExecutionContextHost([new FakeRequest(clients[i % clients.length]), new FakeReply(), undefined], HelloController, handler);
    context.setType('http');
    if (evictKilobytes > 0) evict(evictKilobytes);
    // Timed alone: the walk that evicts costs far more than a call, and its own variance would swamp a loop's total.
    const started = process.hrtime.bigint();
    if (guard.canActivate(context) === true) allowed++;
    spent += process.hrtime.bigint() - started;
  }
  if (allowed !== calls) throw new Error(`bench:guard: ${calls - allowed} of ${calls} calls were not allowed`);
  return Number(spent) / calls;
}

const SETUPS = [
  { id: 'one client', clients: 1 },
  { id: '10,000 clients', clients: 10_000 },
];

/**
 * One setup, in a process of its own: the throttle classes `.with()` makes for one module would make
 * the call sites of the next module's throttles polymorphic, and slow it for reasons of this script's.
 */
async function measureSetup(headers, clientCount) {
  const clients = Array.from({ length: clientCount }, (_, i) => clientAddress(i));
  const { guard, close } = await throttlingGuard(headers);
  const noop = new AllowAllGuard();
  // Warm the JIT and give every client its keys before anything is timed.
  timeCalls(guard, clients, Math.max(wholeCalls(WARM_CALLS / 3), clients.length * 3), 0);
  timeCalls(noop, clients, wholeCalls(WARM_CALLS / 3), 0);
  const cells = [];
  for (const kilobytes of EVICTIONS) {
    // REPEATS alternating slices of ours and the baseline; the median difference is the figure.
    const calls = wholeCalls((kilobytes === 0 ? WARM_CALLS : WARM_CALLS / 10) / REPEATS);
    const differences = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      const ours = timeCalls(guard, clients, calls, kilobytes);
      differences.push(ours - timeCalls(noop, clients, calls, kilobytes));
    }
    cells.push({ ns: median(differences), differences });
  }
  await close();
  return cells;
}

/** A share of BENCH_GUARD_CALLS as a count of calls: at least one. */
function wholeCalls(share) {
  return Math.max(1, Math.floor(share));
}

const SETUP_ARG = '--setup';
if (process.argv[2] === SETUP_ARG) {
  const [headers, clients] = process.argv.slice(3);
  const cells = await measureSetup(headers === 'false' ? false : headers, Number(clients));
  // The walk's checksum goes out too, so no compiler may drop the walk as dead code.
  process.send({ cells, junk: junkSum & 1 });
  process.exit(0);
}

/** Runs one setup in a child process and resolves with its cells. */
function inChild(headers, clients) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [SETUP_ARG, String(headers), String(clients)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (message) => resolve(message.cells));
    child.once('exit', (code) => reject(new Error(`bench:guard: the setup (${headers}, ${clients} clients) exited with code ${code} before reporting`)));
  });
}

const started = new Date();
const rows = [];
for (const headers of ['ietf', false]) {
  for (const setup of SETUPS) {
    const cells = await inChild(headers, setup.clients);
    cells.forEach(({ ns, differences }, i) => {
      console.log(`${setup.id.padEnd(15)} headers ${String(headers).padEnd(5)} evict ${String(EVICTIONS[i]).padStart(4)} KiB: ${ns.toFixed(0)} ns per call (slices: ${differences.map((d) => d.toFixed(0)).join(', ')})`);
    });
    rows.push({ setup, headers, cells: cells.map((cell) => cell.ns) });
  }
}

const lines = [
  '## The guard in one process: warm and cold caches',
  '',
  `Command: \`npm run bench:guard\` (node bench/guard-in-process.mjs), with \`BENCH_GUARD_CALLS=${WARM_CALLS}\`. Run at ${started.toISOString()}. Machine: ${machineFacts()}.`,
  '',
  'ThrottlingGuard.canActivate() called directly, two UserThrottles (limits nobody reaches) on the memory store, `numProxies: 1`, ' +
    'a fresh request per call. Each call is timed alone, and a guard that returns true, timed the same way under the same ' +
    'conditions, is subtracted, so the figures are this module\'s own nanoseconds per request (the median of five alternating slices of each). "Warm": calls back to back, so the guard\'s code ' +
    'and data stay in the CPU caches. "Cold": before each call the benchmark walks that much other memory, one byte per cache line, ' +
    'pushing the guard\'s code and data out of the caches, as the HTTP stack does between two requests of a real server.',
  '',
  '| clients | headers | warm | cold, 512 KiB walked | cold, 2 MiB walked |',
  '| --- | --- | ---: | ---: | ---: |',
  ...rows.map(({ setup, headers, cells }) => `| ${setup.id} | ${headers === false ? '`false`' : `'${headers}'`} | ${cells.map((ns) => `${Math.round(ns).toLocaleString('en-US')} ns`).join(' | ')} |`),
  '',
  '- The same calls cost several times more when the caches are cold. In the HTTP benchmark every request is a cold call: Fastify, ' +
    'Node and Nest run tens of thousands of instructions between two calls of the guard. That is why the HTTP benchmark\'s time per ' +
    'request over no guard is several times what the instruction counts, or this table\'s warm column, would predict.',
  '',
];
writeSection(resultsPath(), GUARD_SECTION, lines.join('\n'));
console.log(`\nWritten to ${resultsPath()} (its "The guard in one process" section)`);
process.exit(0);
