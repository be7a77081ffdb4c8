// bench/RESULTS.md (or BENCH_OUT): one file that both drivers write. bench/run.mjs owns the file;
// every other driver owns one section of it between two HTML comments, so either driver can run
// alone and leave the other's latest figures in place.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));

export function resultsPath() {
  return process.env.BENCH_OUT || join(benchDir, 'RESULTS.md');
}

/** The section bench/redis-bench.mjs owns. */
export const REDIS_SECTION = 'redis-store';

/** The section bench/instructions.mjs owns. */
export const INSTRUCTIONS_SECTION = 'instructions';

/** The section bench/redis-instructions.mjs owns. */
export const REDIS_INSTRUCTIONS_SECTION = 'redis-instructions';

/** The section bench/memory-footprint.mjs owns. */
export const MEMORY_SECTION = 'memory-footprint';

/** The section bench/guard-in-process.mjs owns. */
export const GUARD_SECTION = 'guard-in-process';

const start = (id) => `<!-- bench section ${id}: written by its own driver, kept by the others -->`;
const end = (id) => `<!-- end of bench section ${id} -->`;

function readSection(text, id) {
  const from = text.indexOf(start(id));
  const to = text.indexOf(end(id), from);
  if (from === -1 || to === -1) return null;
  return { from, to: to + end(id).length };
}

function read(path) {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Writes the whole file from `markdown`, then the sections `keep` names as the file had them. */
export function writeReport(path, markdown, keep) {
  const before = read(path);
  const kept = keep.map((id) => readSection(before, id)).filter(Boolean).map(({ from, to }) => before.slice(from, to));
  writeFileSync(path, [markdown.trimEnd(), ...kept].join('\n\n') + '\n');
}

/** Replaces section `id` (appends it where the file has none), leaving the rest of the file as it was. */
export function writeSection(path, id, markdown) {
  const section = `${start(id)}\n${markdown.trimEnd()}\n${end(id)}`;
  const before = read(path) || '# Benchmark results\n\n`npm run bench` writes the memory-store results above the sections below.\n';
  const where = readSection(before, id);
  const text = where ? before.slice(0, where.from) + section + before.slice(where.to) : `${before.trimEnd()}\n\n${section}`;
  writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`);
}
