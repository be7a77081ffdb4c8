// The environment knobs the benchmark drivers read (BENCH_DURATION, BENCH_ROUNDS, ...).

/** A positive number from the environment, or `fallback` when unset; anything else stops the run. */
export function positiveNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`bench: ${name} must be a positive number, got '${raw}'`);
  return value;
}

/** A positive whole number from the environment (a count: rounds, processes), or `fallback` when unset. */
export function positiveInteger(name, fallback) {
  const value = positiveNumber(name, fallback);
  if (!Number.isInteger(value)) throw new Error(`bench: ${name} must be a whole number, got '${process.env[name]}'`);
  return value;
}
