// bench/RESULTS.md (or BENCH_OUT): each driver owns one section between two HTML comments and
// replaces only that one, so any driver can run alone and leave the others' latest figures in place.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));

export function resultsPath() {
  return process.env.BENCH_OUT || join(benchDir, 'RESULTS.md');
}

/** The sections, by the driver that writes each. */
export const HTTP_SECTION = 'http-memory'; // bench/run.mjs
export const REDIS_SECTION = 'redis-store'; // bench/redis-bench.mjs
export const MEMORY_SECTION = 'memory-footprint'; // bench/memory-footprint.mjs
export const ALGORITHM_MEMORY_SECTION = 'algorithm-memory'; // bench/algorithm-memory.mjs
export const ALGORITHM_TIME_SECTION = 'algorithm-time'; // bench/algorithm-time.mjs
export const FLEXIBLE_SECTION = 'versus-flexible'; // bench/versus-flexible.mjs

const start = (id) => `<!-- bench section ${id}: written by its own driver, kept by the others -->`;
const end = (id) => `<!-- end of bench section ${id} -->`;
const HEADER = '# Benchmark results\n\nWhat each table answers and how to read it: [README.md](README.md).\n';

/** Replaces section `id` of the results file (appends it where the file has none); prints it too. */
export function writeSection(id, markdown) {
  const path = resultsPath();
  const section = `${start(id)}\n${markdown.trimEnd()}\n${end(id)}`;
  const before = existsSync(path) ? readFileSync(path, 'utf8') : HEADER;
  const from = before.indexOf(start(id));
  const to = from === -1 ? -1 : before.indexOf(end(id), from);
  const text = to === -1 ? `${before.trimEnd()}\n\n${section}` : before.slice(0, from) + section + before.slice(to + end(id).length);
  writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`);
  console.log(`\n${markdown}\nWritten to ${path}`);
}
