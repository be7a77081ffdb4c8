// The measuring schedule the req/s drivers share: several processes of every server, each warmed up,
// then rounds in rotating order over all of them; and the figures taken from those rounds.
import { median } from './stats.mjs';

/**
 * Runs `measure(variant, warmupSeconds)` once per variant, then `rounds` rounds of
 * `measure(variant, seconds)` in an order that rotates each round, so no variant always runs first
 * or right after another. `describe(run)` is printed after each round's req/s.
 * Resolves with Map(variant id -> the rounds' runs).
 */
export async function rotatingRounds({ variants, rounds, seconds, warmupSeconds, measure, describe }) {
  for (const variant of variants) {
    const warm = await measure(variant, warmupSeconds);
    console.log(`  warm-up ${variant.id.padEnd(17)} ${Math.round(warm.rps)} req/s`);
  }
  const runs = new Map(variants.map((variant) => [variant.id, []]));
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const variant of order) {
      const run = await measure(variant, seconds);
      runs.get(variant.id).push(run);
      console.log(`  round ${round + 1} ${variant.id.padEnd(17)} ${Math.round(run.rps)} req/s  ${describe(run)}`);
    }
  }
  return runs;
}

/**
 * `count` instances of every variant, `{ id: '<variant id>#<n>', variant }`, process-major (a#1,
 * b#1, ..., a#2, ...), so that rotatingRounds() over them interleaves the variants.
 */
export function processInstances(variants, count) {
  const instances = [];
  for (let n = 1; n <= count; n++) for (const variant of variants) instances.push({ id: `${variant.id}#${n}`, variant });
  return instances;
}

/** Map(variant id -> one list of rounds per process), from rotatingRounds() over processInstances(). */
export function roundsByProcess(variants, instances, runs) {
  const processes = new Map(variants.map((variant) => [variant.id, []]));
  for (const instance of instances) processes.get(instance.variant.id).push(runs.get(instance.id));
  return processes;
}

/**
 * One figure of a variant from its processes: each process's median round, then the median process
 * (a process that runs slow for its whole life moves the result no further than the next one).
 * Resolves to { value, perProcess }.
 */
export function medianProcess(processes, pick) {
  const perProcess = processes.map((rounds) => median(rounds.map(pick)));
  return { value: median(perProcess), perProcess };
}
