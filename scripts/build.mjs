#!/usr/bin/env node
// Builds dist/:
// - dist/src/**: every module and its types, with tsc (the types are the package's);
// - dist/index.cjs: the package entry, one CommonJS bundle with the parts of
//   drizzle-orm it uses, made by esbuild. Loading drizzle-orm's own entry points
//   costs a CLI process ~40 ms at every start; the bundle loads in a few.
//   better-sqlite3 stays external (a native addon);
// - dist/index.mjs: an ES module entry re-exporting every name of the bundle, so
//   `import { KVStore } from 'drizzle-kv'` and `require('drizzle-kv')` share one
//   module instance and one set of classes.
import { execFileSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

buildSync({
  entryPoints: [join(root, 'src/index.ts')],
  outfile: join(dist, 'index.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['better-sqlite3'],
  // Less to parse at every process start (about 1 ms); names are kept, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const names = Object.keys(createRequire(import.meta.url)(join(dist, 'index.cjs'))).filter((n) => n !== '__esModule');
writeFileSync(
  join(dist, 'index.mjs'),
  [
    "import cjs from './index.cjs';",
    '',
    `export const { ${names.join(', ')} } = cjs;`,
    '',
  ].join('\n'),
);
console.log(`built dist/ (${names.length} exports)`);
