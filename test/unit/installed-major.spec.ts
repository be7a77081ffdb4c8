import { describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedMajor } from '../../lib/nest/boot-checks/installed-major.js';

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

  /** A package folder with a package.json and an empty CommonJS entry. */
  function fakePackage(directory: string, name: string, version: string): void {
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
    writeFileSync(join(directory, 'index.js'), 'module.exports = {};\n');
  }

  /** Runs `check` with an app folder (made by `layout`) as the working directory. */
  function inApp(layout: (app: string) => void, check: () => void): void {
    const app = mkdtempSync(join(tmpdir(), 'installed-major-'));
    const cwd = process.cwd();
    try {
      layout(app);
      process.chdir(app);
      check();
    } finally {
      process.chdir(cwd);
      rmSync(app, { recursive: true, force: true });
    }
  }

  test("is the lower of the library's copy and the app's, when a linked or duplicated install makes them differ", () => {
    inApp(
      (app) => fakePackage(join(app, 'node_modules', '@nestjs', 'websockets'), '@nestjs/websockets', '11.2.6'),
      () => expect(installedMajor('@nestjs/websockets')).toBe(11),
    );
  });

  test('counts the copy found beside the nestjs-throttling the app resolves, not only the app\'s own', () => {
    inApp(
      (app) => {
        fakePackage(join(app, 'node_modules', '@nestjs', 'websockets'), '@nestjs/websockets', '12.1.1');
        const library = join(app, 'node_modules', 'nestjs-throttling');
        fakePackage(library, 'nestjs-throttling', '0.1.0');
        fakePackage(join(library, 'node_modules', '@nestjs', 'websockets'), '@nestjs/websockets', '11.2.6');
      },
      () => expect(installedMajor('@nestjs/websockets')).toBe(11),
    );
  });
});
