import { beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packedPackage } from './support/packed-package.js';

// What `npm pack` (and so `npm publish`, or an install from git) puts in the package, from a checkout
// as `git clone` leaves it: no dist/, which .gitignore keeps out of the repository. The package must
// build itself (the prepack script); before it did, a clean checkout packed a package without code.

type ExportTarget = string | { [condition: string]: ExportTarget };

/** Every file that main, module, types and the export conditions name, however deeply nested. */
function exportTargets(manifest: { main: string; module: string; types: string; exports: Record<string, ExportTarget> }): string[] {
  const targets = [manifest.main, manifest.module, manifest.types];
  const visit = (target: ExportTarget): void => {
    if (typeof target === 'string') targets.push(target);
    else Object.values(target).forEach(visit);
  };
  Object.values(manifest.exports).forEach(visit);
  return targets.map((target) => target.replace(/^\.\//, ''));
}

describe('the packed package, from a clean checkout', () => {
  let files: readonly string[];

  beforeAll(async () => {
    ({ files } = await packedPackage());
  }, 300_000);

  test('it holds the compiled library that main, module, types and every export point at', () => {
    const manifest = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8'));
    const targets = exportTargets(manifest).filter((target) => target !== 'package.json');
    expect(targets).toEqual(expect.arrayContaining(['dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts']));
    for (const target of targets) expect(files).toContain(target);
    expect(files).toContain('package.json');
  });

  test('its CommonJS build says it is CommonJS, inside a "type": "module" package', () => {
    expect(files).toContain('dist/cjs/package.json');
  });

  test('it holds the changelog, the sources the maps point at, and no tests, benchmarks or sample', () => {
    expect(files).toContain('CHANGELOG.md');
    expect(files).toContain('lib/index.ts');
    expect(files).toEqual(expect.arrayContaining(['dist/esm/index.js.map', 'dist/esm/index.d.ts.map', 'dist/cjs/index.js.map', 'dist/cjs/index.d.ts.map']));
    expect(files.filter((path) => /^(test|bench|sample|scripts|\.ci)\//.test(path))).toEqual([]);
  });
});
