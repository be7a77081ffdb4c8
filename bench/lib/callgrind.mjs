// Counting machine instructions with valgrind's callgrind, for bench/instructions.mjs (the memory
// store) and bench/redis-instructions.mjs (the Redis store, app and redis-server both counted).
// Counts, unlike req/s and CPU time, hardly move with whatever else these shared hosts run.
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownChild } from './child-processes.mjs';

/** Stops the driver with a clear message when valgrind is not installed. */
export function requireValgrind(driver) {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error(`${driver} needs valgrind on PATH (Debian: apt-get install valgrind)`);
    process.exit(1);
  }
}

function callgrindArgs(outDir) {
  return [
    '--tool=callgrind',
    '--separate-threads=yes', // each thread's count on its own: the main thread's is what limits throughput
    '--dump-instr=no',
    '--collect-atstart=yes',
    `--callgrind-out-file=${join(outDir, 'callgrind.out')}`,
  ];
}

/**
 * Forks a Node benchmark server (which reports `{ port }` over IPC once it listens) under
 * callgrind; resolves with { child, port, outDir }.
 */
export function startCountedServer(script, args, label) {
  const outDir = mkdtempSync(join(tmpdir(), `bench-instr-${label}-`));
  return new Promise((resolve, reject) => {
    const child = ownChild(fork(script, args, { execPath: 'valgrind', execArgv: [...callgrindArgs(outDir), process.execPath], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }));
    const timer = setTimeout(() => reject(new Error(`${label} did not start under valgrind within 5 minutes`)), 5 * 60_000);
    child.on('message', (message) => {
      if (message?.port === undefined) return;
      clearTimeout(timer);
      resolve({ child, port: message.port, outDir });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with code ${code} before listening`));
    });
  });
}

/** Starts `redis-server` on `port` under callgrind; resolves with { child, outDir } once `ready` resolves. */
export function startCountedRedis(port) {
  const outDir = mkdtempSync(join(tmpdir(), 'bench-instr-redis-server-'));
  const child = ownChild(
    spawn('valgrind', [...callgrindArgs(outDir), 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }),
  );
  return { child, outDir };
}

/** Zeroes the counters of a process under callgrind. */
export function zeroCounts(pid) {
  execFileSync('callgrind_control', ['--zero', String(pid)], { stdio: 'ignore' });
}

/** Dumps the counters of a process under callgrind (one file per thread). */
export function dumpCounts(pid) {
  execFileSync('callgrind_control', ['--dump=measured', String(pid)], { stdio: 'ignore' });
}

/** The main thread's instruction count in the last dump (the file whose name ends in .1-01). */
export function mainThreadInstructions(outDir) {
  return summaryOf(mainThreadDump(outDir));
}

/**
 * The main thread's count in the last dump, and the part of it spent collecting garbage: the
 * inclusive count of V8's Heap::CollectGarbage, which every scavenge and full collection enters.
 * A scavenge costs millions of instructions and comes every few thousand requests, so whether one
 * falls inside the counted requests moves a server's count by thousands per request: counted apart,
 * the rest repeats from one run to the next.
 */
export function mainThreadCountsWithGc(outDir) {
  const dump = mainThreadDump(outDir);
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dump], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const line = annotated.split('\n').find((text) => text.includes(GC_ENTRY));
  const gc = line === undefined ? 0 : Number(/^\s*([\d,]+)/.exec(line)?.[1].replaceAll(',', '') ?? NaN);
  if (!Number.isFinite(gc)) throw new Error(`cannot read the count of ${GC_ENTRY} in ${dump}: ${line}`);
  return { total: summaryOf(dump), gc };
}

const GC_ENTRY = 'v8::internal::Heap::CollectGarbage(';

function mainThreadDump(outDir) {
  const dump = readdirSync(outDir).find((name) => name.endsWith('.1-01'));
  if (dump === undefined) throw new Error(`no main-thread dump in ${outDir}`);
  return join(outDir, dump);
}

function summaryOf(path) {
  const summary = /^summary: (\d+)/m.exec(readFileSync(path, 'utf8'));
  if (summary === null) throw new Error(`no summary line in ${path}`);
  return Number(summary[1]);
}

/** Removes a counted process's dump directory. */
export function removeCounts(outDir) {
  rmSync(outDir, { recursive: true, force: true });
}

/** Runs `jobs` (functions returning promises) two at a time, in order: one per core. */
export async function twoAtATime(jobs) {
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await jobs[index]();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}
