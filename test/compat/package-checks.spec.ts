import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { packedPackage } from './support/packed-package.js';

const run = promisify(execFile);
const ATTW = join(process.cwd(), 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');

// The two linters a package's users and registries judge it by, on the tarball `npm pack` makes
// (the one npm publish would upload), offline: neither may report anything, suggestions included.
describe('the packed tarball passes the package linters', () => {
  let tarball: string;

  beforeAll(async () => {
    ({ tarball } = await packedPackage());
  }, 300_000);

  test('Are the Types Wrong finds no problem: the types resolve and match the JavaScript under node10, node16 (CJS and ESM) and bundler', async () => {
    let stdout: string;
    try {
      ({ stdout } = await run(process.execPath, [ATTW, tarball, '--format', 'json'], { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }));
    } catch (error) {
      // attw exits 1 when it finds problems; its JSON still names them.
      stdout = (error as { stdout?: string }).stdout ?? '';
      if (stdout === '') throw error;
    }
    const { problems, analysis } = JSON.parse(stdout) as { problems: Record<string, unknown>; analysis: { entrypoints: Record<string, unknown> } };
    expect(Object.keys(analysis.entrypoints)).toEqual(['.', './package.json']);
    expect(problems).toEqual({});
  }, 120_000);

  test('publint reports no error, warning or suggestion', async () => {
    const data = readFileSync(tarball);
    const { messages, pkg } = await publint({ pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }, level: 'suggestion' });
    expect(messages.map((message) => `${message.type}: ${formatMessage(message, pkg, { color: false })}`)).toEqual([]);
  }, 60_000);
});
