/** Jest in ESM mode: run through `npm test` (NODE_OPTIONS=--experimental-vm-modules). */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  // The consumer apps' own specs run under their own Jest (test/compat/*.spec.ts starts it).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/compat/nest11-commonjs/', '<rootDir>/test/compat/nest12-esm/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  testTimeout: 30000,
  maxWorkers: 2,
};
