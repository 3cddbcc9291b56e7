#!/usr/bin/env node
// Runs a TypeScript example against the built package:
//   npm run example -- examples/drizzle-app.ts [args...]
// The example is transpiled (not type-checked: `npm run typecheck` does that) into a
// file inside this package (examples/.out/), so that `import ... from 'drizzle-kv'` resolves to it by name.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: run-example.mjs EXAMPLE.ts [args...]');
  process.exit(2);
}
const { outputText } = ts.transpileModule(readFileSync(resolve(file), 'utf8'), {
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
});
const out = join(root, 'examples', '.out', `${basename(file, '.ts')}.cjs`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, outputText);
try {
  execFileSync(process.execPath, [out, ...args], { stdio: 'inherit' });
} catch (err) {
  process.exit(err.status ?? 1);
}
