import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { RUN_ID } from '../support/services.js';

const run = promisify(execFile);
const ROOT = process.cwd();

// What `npm pack` (and so `npm publish`, or an install from git) puts in the package, from a checkout
// as `git clone` leaves it: no dist/, which .gitignore keeps out of the repository. The package must
// build itself (the prepack script); before it did, a clean checkout packed a package without code.
const checkout = join(tmpdir(), `nestjs-throttling-pack-${RUN_ID}`);

interface PackedFile {
  path: string;
}

function exportTargets(manifest: { main: string; types: string; exports: Record<string, string | Record<string, string>> }): string[] {
  const targets = [manifest.main, manifest.types];
  for (const entry of Object.values(manifest.exports)) targets.push(...(typeof entry === 'string' ? [entry] : Object.values(entry)));
  return targets.map((target) => target.replace(/^\.\//, ''));
}

describe('the packed package, from a clean checkout', () => {
  let files: string[];

  beforeAll(async () => {
    const { stdout: tracked } = await run('git', ['ls-files', '-z'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    for (const path of tracked.split('\0').filter((path) => path.length > 0)) {
      mkdirSync(join(checkout, dirname(path)), { recursive: true });
      writeFileSync(join(checkout, path), readFileSync(join(ROOT, path)));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: checkout, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
    files = (JSON.parse(stdout) as { files: PackedFile[] }[])[0].files.map((file) => file.path);
  }, 240_000);

  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  test('it holds the compiled library that main, types and every export point at', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const target of exportTargets(manifest).filter((target) => target !== 'package.json')) expect(files).toContain(target);
    expect(files).toContain('package.json');
  });

  test('it holds the sources the declaration maps point at, and no tests, benchmarks or sample', () => {
    expect(files).toContain('lib/index.ts');
    expect(files).toContain('dist/index.d.ts.map');
    expect(files.filter((path) => /^(test|bench|sample|scripts|\.ci)\//.test(path))).toEqual([]);
  });
});
