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

/** The schedule every req/s driver reads: BENCH_DURATION, BENCH_WARMUP (s), BENCH_ROUNDS, BENCH_PROCESSES, BENCH_CONNECTIONS. */
export function scheduleKnobs({ duration = 3, warmup = 3, rounds = 3, processes = 3, connections = 50 } = {}) {
  return {
    seconds: positiveNumber('BENCH_DURATION', duration),
    warmupSeconds: positiveNumber('BENCH_WARMUP', warmup),
    rounds: positiveInteger('BENCH_ROUNDS', rounds),
    processes: positiveInteger('BENCH_PROCESSES', processes),
    connections: positiveNumber('BENCH_CONNECTIONS', connections),
  };
}

/** The schedule in words, for the results: "3 processes per server, 3 rounds of 3 s after 3 s of warm-up, 50 connections". */
export function describeSchedule({ processes, rounds, seconds, warmupSeconds, connections }) {
  return `${processes} processes per server, ${rounds} rounds of ${seconds} s after ${warmupSeconds} s of warm-up, ${connections} connections`;
}

/** The counting algorithms the algorithm benchmarks measure: BENCH_ALGORITHMS (comma-separated), default all four. */
export function chosenAlgorithms() {
  const known = ['sliding-log', 'fixed-window', 'sliding-window', 'gcra'];
  const ids = (process.env.BENCH_ALGORITHMS ?? known.join(',')).split(',');
  const unknown = ids.filter((id) => !known.includes(id));
  if (unknown.length > 0) throw new Error(`bench: BENCH_ALGORITHMS names unknown algorithms: ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return known.filter((id) => ids.includes(id));
}
