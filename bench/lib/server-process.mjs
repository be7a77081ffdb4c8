// The driver's side of a benchmark server: fork it, ask it for its counters, stop it.
// The server's side is bench/lib/bench-server.mjs.
import { fork } from 'node:child_process';
import { ownChild } from './child-processes.mjs';

/** Forks `script` with `args` (and `env` added to this process's) and resolves with { child, port, pid } once it listens. */
export function startServer(script, args, env = {}) {
  const name = `${script.split('/').pop()} ${args[0]}`;
  return new Promise((resolve, reject) => {
    const child = ownChild(fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } }));
    const timer = setTimeout(() => reject(new Error(`bench: server '${name}' did not start within 30 s`)), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve({ child, port: message.port, pid: child.pid });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench: server '${name}' exited with code ${code} before listening`));
    });
  });
}

/**
 * The server's own counters so far: cpuMicros (user + system CPU time, µs: immune to what else the
 * machine runs) and handled (requests received, or null when the server does not count them).
 */
export function serverStats({ child }) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench: server did not report its counters')), 5_000);
    const onMessage = (message) => {
      if (message?.stats === undefined) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.stats);
    };
    child.on('message', onMessage);
    child.send('stats');
  });
}

export function stopServer({ child }) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('stop');
  });
}
