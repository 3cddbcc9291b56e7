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
  layer(['src/errors.ts', 'src/validate.ts', 'src/names.ts', 'src/key-range.ts', 'src/serializer.ts', 'src/options.ts'], [
    './connection', './registry', './migrator', './repository', './store', './database',
  ]),
  layer(['src/connection.ts'], ['./registry', './migrator', './repository', './store', './database']),
  layer(['src/registry.ts', 'src/migrator.ts', 'src/repository.ts', 'src/kv-cache-adoption.ts', 'src/schema-check.ts'], ['./store', './database', './scache']),
  layer(['src/migrator.ts', 'src/registry.ts'], ['./kv-cache-adoption']),
  layer(['src/store.ts'], ['./database', './scache', './index']),
  // The memoizer depends only on the store's public interface.
  layer(['src/scache.ts', 'src/cache-key.ts'], ['./connection', './registry', './migrator', './repository', './database', './index']),
);
