// Facts about the run and the machine it measured on, for the results file.
import os from 'node:os';

/** Cores, CPU model, memory, Node and OS, in one line. */
export function machineFacts() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.availableParallelism()} cores (nproc), ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; Node ${process.version}, ${process.platform} ${os.release()}`;
}

/** The 1, 5 and 15 minute load averages: anything above 0 is other work competing for the cores. */
export function loadAverage() {
  return os.loadavg().map((load) => load.toFixed(2)).join(', ');
}

/** The line every section starts with: when, on what, and how busy the machine was at the start. */
export function runFacts(startedAt, startLoad) {
  return `Run at ${startedAt.toISOString()} on ${machineFacts()}; load average at the start ${startLoad} (other work on the same cores).`;
}
