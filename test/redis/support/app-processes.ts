import { type ChildProcess, fork } from 'node:child_process';
import { request, Agent } from 'node:http';

export interface AppProcess {
  readonly port: number;
  readonly child: ChildProcess;
}

/** Forks an app instance (test/redis/support/throttled-app.child.ts); resolves once it listens (bounded: 60 s, for a loaded machine). */
export function startAppProcess(config: Record<string, unknown>): Promise<AppProcess> {
  const child = fork('./test/redis/support/throttled-app.child.ts', [JSON.stringify(config)], {
    execArgv: ['--import', './test/redis/support/ts-register.mjs'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the app process did not start within 60 s'));
    }, 60_000);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolve({ port: message.port, child });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app process exited with ${code} before listening`));
    });
  });
}

/** Stops an app process and waits until it is gone (SIGKILL after 5 s). */
export async function stopAppProcess(app: AppProcess): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.send('stop');
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: string;
}

/** GET on loopback, through a shared agent (so thousands of requests reuse sockets). */
export function get(agent: Agent, port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on ${port} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
