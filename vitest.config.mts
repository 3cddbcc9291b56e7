// Vitest runs the Keyv adapter's tests (tests/keyv/): @keyv/test-suite is written
// for vitest. Everything else runs on jest (jest.config.js ignores tests/keyv/).
// `npm test` runs both (scripts/test.mjs).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/keyv/**/*.test.ts'],
    environment: 'node',
    // better-sqlite3 is a native addon: one child process per test file, as jest runs them.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Hooks in order of declaration (after-hooks in reverse): a test file's own
    // beforeEach opens the fresh store before the suite's beforeEach uses it.
    sequence: { hooks: 'stack' },
  },
});
