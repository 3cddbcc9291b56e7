#!/usr/bin/env node
// Builds dist/: the CommonJS build and its types with tsc, then an ES module
// entry (dist/index.mjs) that re-exports every name of the CommonJS build, so
// `import { KVStore } from 'drizzle-kv'` and `require('drizzle-kv')` share one
// module instance and one set of classes.
import { execFileSync } from 'node:child_process';
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

const names = Object.keys(createRequire(import.meta.url)(join(dist, 'src/index.js'))).filter((n) => n !== '__esModule');
writeFileSync(
  join(dist, 'index.mjs'),
  [
    "import cjs from './src/index.js';",
    '',
    `export const { ${names.join(', ')} } = cjs;`,
    '',
  ].join('\n'),
);
console.log(`built dist/ (${names.length} exports)`);
