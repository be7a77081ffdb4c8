// The environment knobs the benchmark drivers read (BENCH_DURATION, BENCH_ROUNDS, ...).

/** A positive number from the environment, or `fallback` when unset; anything else stops the run. */
export function positiveNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`bench: ${name} must be a positive number, got '${raw}'`);
  return value;
}
