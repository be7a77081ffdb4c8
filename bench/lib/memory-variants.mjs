// The memory-store servers (bench/server.mjs builds each) and the scenarios they are loaded with,
// shared by bench/run.mjs and bench/compare-builds.mjs. Limits are chosen so that no client reaches
// them during a run: the allow path is measured.

/** Every memory-store server, by the id bench/server.mjs knows it by. */
export const MEMORY_VARIANTS = [
  { id: 'none', label: 'no guard' },
  { id: 'header-writing-guard', label: 'a guard that only writes the two IETF headers' },
  { id: 'ours', label: 'nestjs-throttling (memory store, 2 throttles)' },
  { id: 'ours-no-headers', label: 'nestjs-throttling, `headers: false`' },
  { id: 'ours-metrics', label: 'nestjs-throttling, Prometheus metrics on' },
  { id: 'nestjs-throttler', label: '@nestjs/throttler 6.7 (2 named throttlers)' },
];

export const MEMORY_SCENARIOS = [
  { id: 'a', title: '(a) 10,000 distinct clients, 100/min + 1000/hour', clients: 10_000, limits: { minute: 100, hour: 1_000 } },
  { id: 'b', title: '(b) 100 clients, 10,000/min + 100,000/hour', clients: 100, limits: { minute: 10_000, hour: 100_000 } },
  { id: 'c', title: '(c) one hot client, 1,000,000/min + 10,000,000/hour', clients: 1, limits: { minute: 1_000_000, hour: 10_000_000 } },
];

/** The scenarios BENCH_SCENARIOS names (default all: "a,b,c"). */
export function chosenScenarios() {
  const ids = (process.env.BENCH_SCENARIOS ?? 'a,b,c').split(',');
  const unknown = ids.filter((id) => !MEMORY_SCENARIOS.some((scenario) => scenario.id === id));
  if (unknown.length > 0) throw new Error(`bench: BENCH_SCENARIOS names unknown scenarios: ${unknown.join(', ')} (known: a, b, c)`);
  return MEMORY_SCENARIOS.filter((scenario) => ids.includes(scenario.id));
}
