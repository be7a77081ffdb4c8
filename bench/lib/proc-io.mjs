// System calls a process has made so far, from Linux's /proc/<pid>/io.
import { readFileSync } from 'node:fs';

/**
 * The read- and write-type system calls (`syscr` + `syscw`: read, readv, write, writev and their
 * socket forms) process `pid` has made so far, or null where /proc does not say (not Linux, or
 * another user's process). Counts every thread of the process.
 */
export function readWriteSyscalls(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? Number.NaN);
    const total = field('syscr') + field('syscw');
    return Number.isFinite(total) ? total : null;
  } catch {
    return null;
  }
}
