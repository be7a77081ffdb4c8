import { describe, expect, test } from '@jest/globals';
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
});
