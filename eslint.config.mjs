// Lint: the recommended rules, plus the project's layering. Data flows one
// way (public API -> store -> repository -> schema -> connection); a lower
// layer importing a higher one is an error, which also rules out cycles.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: [{ group: forbidden, message: 'Data flows one way: a lower layer must not import a higher one.' }] },
    ],
  },
});

// A config object later in the list replaces an earlier one's options for the same rule, so every
// layer of the SQLite engine repeats this: it never reaches a server engine or its driver.
const notServers = ['**/pg', '**/pg/*', '**/libsql', '**/libsql/*', 'pg', '@libsql/*'];

const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  Buffer: 'readonly',
  require: 'readonly',
  module: 'writable',
  __dirname: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  setImmediate: 'readonly',
  setInterval: 'readonly',
  clearInterval: 'readonly',
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'examples/.out/', 'bench/.deps/', 'tests/.built/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  { files: ['**/*.{js,mjs,cjs}'], languageOptions: { globals: nodeGlobals } },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  { files: ['tests/**/*.ts'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  layer(['migrations/**'], ['../src/*', '../src']),
  layer(['src/schema/**'], ['../*', '!../schema/*']),
  // The core decides, once, for every engine: it imports no engine, facade, driver or Drizzle dialect.
  layer(['src/core/**'], ['../sqlite/*', '../pg/*', '../libsql/*', '../async/*', '../scache/*', '../index', '../schema/*', '!../schema/value', 'better-sqlite3', 'pg', '@libsql/*', 'drizzle-orm', 'drizzle-orm/*']),
  // The async facades run on any engine's ports (public.ts gathers what every async entry exports).
  layer(['src/async/store.ts', 'src/async/database.ts', 'src/async/open.ts'], ['../sqlite/*', '../pg/*', '../libsql/*', '../scache/*', '../index', 'better-sqlite3', 'pg', '@libsql/*']),
  // Engines never reach each other; the SQLite engine is the root's, and loads neither server driver.
  layer(['src/sqlite/**'], notServers),
  layer(['src/pg/**'], ['**/sqlite/*', '**/libsql/*', '**/scache/*', '**/schema/*', '!**/schema/value', 'better-sqlite3', '@libsql/*']),
  layer(['src/libsql/**'], ['**/pg/*', '**/scache/*', 'better-sqlite3', 'pg', '**/sqlite/store', '**/sqlite/database', '**/sqlite/connection', '**/sqlite/async/*']),
  // Within the SQLite engine, data flows one way: store -> repository -> queries -> schema -> connection.
  layer(['src/sqlite/errors.ts', 'src/sqlite/capabilities.ts'], ['./connection', './registry', './migrator', './repository', './store', './database', ...notServers]),
  layer(['src/sqlite/connection.ts'], ['./registry', './migrator', './repository', './store', './database', ...notServers]),
  layer(['src/sqlite/queries.ts', 'src/sqlite/registry.ts', 'src/sqlite/migrator.ts', 'src/sqlite/repository.ts', 'src/sqlite/kv-cache-adoption.ts', 'src/sqlite/schema-check.ts'], ['./store', './database', '../scache/*', ...notServers]),
  layer(['src/sqlite/migrator.ts', 'src/sqlite/registry.ts'], ['./kv-cache-adoption', './store', './database', '../scache/*', ...notServers]),
  layer(['src/sqlite/store.ts'], ['./database', '../scache/*', '../index', ...notServers]),
  // The memoizer depends only on the stores' public interface (and opens the default SQLite store).
  layer(['src/scache/**'], ['../sqlite/*', '!../sqlite/store', '../pg/*', '../libsql/*', '../async/*', '../index']),
  // The command loads the engines at run time, from the bundles beside it: it imports none of their code.
  layer(['src/cli/**'], ['../pg/*', '../libsql/*', '../sqlite/*', '!../sqlite/database', '../scache/*', '../index', 'pg', '@libsql/*', 'better-sqlite3']),
);
