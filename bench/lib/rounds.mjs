// The measuring schedule both drivers share: warm every server up, then rounds in rotating order.

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
