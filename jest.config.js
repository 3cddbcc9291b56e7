/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  // The Keyv adapter's tests run on vitest (vitest.config.mts), as @keyv/test-suite needs; `npm test` runs both.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/tests/keyv/'],
  transform: {
    // Type checking is its own step (npm run typecheck); tests only transpile.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 60_000,
  // Finds PostgreSQL and starts sqld for the run (tests/servers/index.ts).
  globalSetup: '<rootDir>/tests/servers/global-setup.ts',
  globalTeardown: '<rootDir>/tests/servers/global-teardown.ts',
};
