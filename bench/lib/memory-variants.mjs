// The servers and scenarios of the memory-store benchmarks, shared by bench/run.mjs (req/s) and
// bench/instructions.mjs (instruction counts), so both tables name and load them alike.
// bench/server.mjs builds each variant; limits are chosen so that no client reaches them during a
// run: the allow path is measured.

import { positiveInteger } from './env.mjs';

/** The nanoseconds of CPU the busy-guard variant burns per request (BENCH_BUSY_NS). */
export const BUSY_NS = positiveInteger('BENCH_BUSY_NS', 500);

/** Every memory-store server, by the id bench/server.mjs knows it by. */
export const MEMORY_VARIANTS = [
  { id: 'none', label: 'no guard' },
  { id: 'noop-guard', label: 'a global guard that returns true (Nest\'s own cost of any guard)' },
  { id: 'busy-guard', label: `a global guard that only burns ${BUSY_NS} ns of CPU per request (what that much work costs here)` },
  { id: 'header-writing-guard', label: 'a global guard that only writes the two IETF headers (what Fastify and Node charge for them)' },
  { id: 'ours', label: 'nestjs-throttling (memory store, 2 throttles)' },
  { id: 'ours-no-headers', label: 'nestjs-throttling, `headers: false`' },
  { id: 'ours-interceptor', label: 'nestjs-throttling + global no-op interceptor (2b)' },
  { id: 'nestjs-throttler', label: '@nestjs/throttler 6.7 (2 named throttlers)' },
];

/** The variants with these ids, in the order given. */
export function memoryVariants(ids) {
  return ids.map((id) => {
    const variant = MEMORY_VARIANTS.find((candidate) => candidate.id === id);
    if (variant === undefined) throw new Error(`bench: unknown memory-store variant '${id}'`);
    return variant;
  });
}

/** The three scenarios of the core issue's benchmark. */
export const MEMORY_SCENARIOS = [
  { id: 'a', title: '(a) 10,000 distinct clients, 100/min + 1000/hour', clients: 10_000, limits: { minute: 100, hour: 1_000 } },
  { id: 'b', title: '(b) 100 clients, 10,000/min + 100,000/hour', clients: 100, limits: { minute: 10_000, hour: 100_000 } },
  { id: 'c', title: '(c) one hot client, 1,000,000/min + 10,000,000/hour', clients: 1, limits: { minute: 1_000_000, hour: 10_000_000 } },
];

/** The scenario with this id. */
export function memoryScenario(id) {
  const scenario = MEMORY_SCENARIOS.find((candidate) => candidate.id === id);
  if (scenario === undefined) throw new Error(`bench: unknown scenario '${id}'`);
  return scenario;
}
