import { describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedMajor } from '../../lib/nest/transports/installed-major.js';

describe('the major version of an installed package', () => {
  test('is read from the package.json beside its entry file', () => {
    expect(installedMajor('@nestjs/websockets')).toBe(12);
  });

  test('is found above an entry file that sits in a subfolder', () => {
    // @nestjs/graphql's entry is dist/index.js.
    expect(installedMajor('@nestjs/graphql')).toBe(14);
  });

  test('is undefined for a package that is not installed', () => {
    expect(installedMajor('nestjs-throttling-test-no-such-package')).toBeUndefined();
  });

  test("is the lower of the library's copy and the app's, when a linked or duplicated install makes them differ", () => {
    const app = mkdtempSync(join(tmpdir(), 'installed-major-'));
    const copy = join(app, 'node_modules', '@nestjs', 'websockets');
    mkdirSync(copy, { recursive: true });
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ name: '@nestjs/websockets', version: '11.2.6', main: 'index.js' }));
    writeFileSync(join(copy, 'index.js'), 'module.exports = {};\n');
    const cwd = process.cwd();
    try {
      process.chdir(app);
      expect(installedMajor('@nestjs/websockets')).toBe(11);
    } finally {
      process.chdir(cwd);
      rmSync(app, { recursive: true, force: true });
    }
  });
});
