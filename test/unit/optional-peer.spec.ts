import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OptionalPeer, isPeerMissing, loadOptionalPeers } from '../../lib/nest/transports/optional-peer.js';

describe('optional peer packages load at bootstrap, not at import', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'optional-peer-'));
    writeFileSync(join(dir, 'installed.mjs'), 'export const answer = 42;\n');
    writeFileSync(join(dir, 'broken.mjs'), "throw new Error('broken at load');\n");
    // Installed, but a package it imports is not: that is a broken install, not an absent peer.
    writeFileSync(join(dir, 'incomplete.mjs'), "import 'nestjs-throttling-test-missing-dependency';\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('an installed package is available once loaded', async () => {
    const peer = new OptionalPeer<{ answer: number }>(pathToFileURL(join(dir, 'installed.mjs')).href);
    await peer.load();
    expect(peer.get()?.answer).toBe(42);
  });

  test('a package that is not installed reads as undefined, and loading it is not an error', async () => {
    const peer = new OptionalPeer('nestjs-throttling-test-no-such-package');
    await expect(peer.load()).resolves.toBeUndefined();
    expect(peer.get()).toBeUndefined();
  });

  test('work that needs a missing package fails naming the work and the package', async () => {
    const missing = new OptionalPeer('nestjs-throttling-test-no-such-package');
    await missing.load();
    expect(() => missing.require('a ws request was throttled')).toThrow(
      'nestjs-throttling: a ws request was throttled but nestjs-throttling-test-no-such-package is not installed',
    );
    const installed = new OptionalPeer<{ answer: number }>(pathToFileURL(join(dir, 'installed.mjs')).href);
    await installed.load();
    expect(installed.require('anything').answer).toBe(42);
  });

  test('a package whose own dependency is missing fails the load instead of passing for absent', async () => {
    const peer = new OptionalPeer(pathToFileURL(join(dir, 'incomplete.mjs')).href);
    await expect(peer.load()).rejects.toThrow('nestjs-throttling-test-missing-dependency');
  });

  test('reading a peer before it was loaded names the package and says who loads it', () => {
    const peer = new OptionalPeer('@nestjs/websockets');
    expect(() => peer.get()).toThrow('nestjs-throttling: @nestjs/websockets was used before it was loaded; ThrottlingModule loads it while the app boots');
  });

  test('a package that fails while loading fails the load with its own error', async () => {
    const peer = new OptionalPeer(pathToFileURL(join(dir, 'broken.mjs')).href);
    await expect(peer.load()).rejects.toThrow('broken at load');
  });

  test('loadOptionalPeers() loads every peer created so far, each once, and fails when one fails', async () => {
    const peer = new OptionalPeer<{ answer: number }>(pathToFileURL(join(dir, 'installed.mjs')).href);
    const first = peer.load();
    // The peers of the tests above are still registered, broken ones among them.
    await expect(loadOptionalPeers()).rejects.toThrow();
    expect(peer.get()?.answer).toBe(42);
    expect(peer.load()).toBe(first);
  });
});

describe('telling an absent peer from a broken install', () => {
  const notFound = (code: string, message: string, extra: object = {}) => Object.assign(new Error(message), { code }, extra);

  test("Node's and Jest's errors for the package itself: absent", () => {
    expect(isPeerMissing(notFound('ERR_MODULE_NOT_FOUND', "Cannot find package '@nestjs/websockets' imported from /app/dist/x.js"), '@nestjs/websockets')).toBe(true);
    expect(isPeerMissing(notFound('MODULE_NOT_FOUND', "Cannot find module '@nestjs/websockets' from 'lib/x.ts'"), '@nestjs/websockets')).toBe(true);
  });

  test('a dependency missing inside the installed peer: broken, not absent', () => {
    const nested = notFound('ERR_MODULE_NOT_FOUND', "Cannot find package 'iterare' imported from /app/node_modules/@nestjs/websockets/index.js");
    expect(isPeerMissing(nested, '@nestjs/websockets')).toBe(false);
  });

  test("Yarn Plug'n'Play names the request in data.request", () => {
    const undeclared = notFound('MODULE_NOT_FOUND', 'Your application tried to access @nestjs/websockets, but it isn\'t declared in your dependencies', {
      pnpCode: 'UNDECLARED_DEPENDENCY',
      data: { request: '@nestjs/websockets' },
    });
    expect(isPeerMissing(undeclared, '@nestjs/websockets')).toBe(true);
    const nested = notFound('MODULE_NOT_FOUND', '@nestjs/websockets tried to access iterare, but it isn\'t declared in its dependencies', {
      pnpCode: 'UNDECLARED_DEPENDENCY',
      data: { request: 'iterare' },
    });
    expect(isPeerMissing(nested, '@nestjs/websockets')).toBe(false);
  });

  test('any other error is not an absent package', () => {
    expect(isPeerMissing(new SyntaxError("Unexpected token in '@nestjs/websockets'"), '@nestjs/websockets')).toBe(false);
    expect(isPeerMissing('not an error', '@nestjs/websockets')).toBe(false);
  });
});
