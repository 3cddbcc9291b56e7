#!/usr/bin/env node
// Builds dist/, what the package ships:
// - dist/index.cjs: the package entry, one CommonJS bundle with the parts of
//   drizzle-orm it uses, made by esbuild. Loading drizzle-orm's own entry points
//   costs a CLI process ~40 ms at every start; the bundle loads in a few.
//   better-sqlite3 stays external (a native addon, the app's peer dependency).
//   Not minified: Node prints the source line of an uncaught error's throw, and
//   a line of a readable bundle is a line, not the whole file.
// - dist/index.mjs: an ES module entry re-exporting every name of the bundle, so
//   `import { KVStore } from 'drizzle-kv'` and `require('drizzle-kv')` share one
//   module instance and one set of classes.
// - dist/schema.cjs and dist/schema.mjs (`drizzle-kv/schema`): the Drizzle table
//   factory for an app's own schema, on the app's own drizzle-orm (external), so
//   its tables are of the app's types and classes.
// - dist/sqlite.cjs (`drizzle-kv/sqlite`): the async store on better-sqlite3,
//   bundled like the root (its own copy of the core; errors are recognised
//   across entries by their brand, see src/core/errors.ts).
// - dist/pg.cjs (`drizzle-kv/pg`) and dist/libsql.cjs (`drizzle-kv/libsql`):
//   the server engines. Their drivers and drizzle-orm stay external: an app on
//   them already has drizzle-orm, and `pgKvTable` / `kvTable` then build its
//   tables with the app's own classes. The root never loads any of them.
// - dist/*.d.cts and dist/*.d.mts: each entry's declarations in one file, from
//   tsc's, for require and for import, so that each resolves the app's
//   drizzle-orm types in the same module system as the app (one copy of each
//   declaration).
// - dist/keyv.cjs (`drizzle-kv/keyv`): the Keyv 5 storage adapter, bundled like
//   dist/sqlite.cjs; keyv stays external (only its types are used, from the app's keyv).
import { execFileSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const declarations = join(root, '.build/types');

rmSync(dist, { recursive: true, force: true });
rmSync(declarations, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Less to parse at every process start; whitespace stays, so an error's source line is one line.
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};
buildSync({ ...common, entryPoints: [join(root, 'src/index.ts')], outfile: join(dist, 'index.cjs'), external: ['better-sqlite3'] });
buildSync({ ...common, entryPoints: [join(root, 'src/schema/index.ts')], outfile: join(dist, 'schema.cjs'), external: ['drizzle-orm', 'drizzle-orm/*'] });
buildSync({ ...common, entryPoints: [join(root, 'src/sqlite/async/index.ts')], outfile: join(dist, 'sqlite.cjs'), external: ['better-sqlite3'] });
// dist/keyv.cjs (`drizzle-kv/keyv`): the Keyv adapter, with the sync SQLite store it opens for a path,
// bundled like the root. It needs only Keyv's types: keyv (and anything of Keyv's) stays the app's.
buildSync({ ...common, entryPoints: [join(root, 'src/keyv/index.ts')], outfile: join(dist, 'keyv.cjs'), external: ['better-sqlite3', 'keyv', '@keyv/*'] });
const engines = [
  { entry: 'src/pg/index.ts', name: 'pg', external: ['pg'] },
  { entry: 'src/libsql/index.ts', name: 'libsql', external: ['@libsql/client'] },
].filter(({ entry }) => existsSync(join(root, entry)));
for (const { entry, name, external } of engines) {
  buildSync({ ...common, entryPoints: [join(root, entry)], outfile: join(dist, `${name}.cjs`), external: [...external, 'drizzle-orm', 'drizzle-orm/*'] });
}
// dist/cli.cjs, the `drizzle-kv` command: small, loading the engine bundle beside it that its target needs.
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
buildSync({
  ...common,
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(dist, 'cli.cjs'),
  banner: { js: '#!/usr/bin/env node' },
  define: { __VERSION__: JSON.stringify(version) },
  external: ['better-sqlite3', 'pg', '@libsql/client', 'drizzle-orm', 'drizzle-orm/*'],
});
chmodSync(join(dist, 'cli.cjs'), 0o755);
// Not shipped: the internal modules test children drive directly (tests/internals.ts).
buildSync({ ...common, entryPoints: [join(root, 'tests/internals.ts')], outfile: join(root, 'tests/.built/internals.cjs'), external: ['better-sqlite3'] });

/** An ES module that re-exports every name of the CommonJS bundle `cjs` (one instance for both). */
function esmWrapper(cjs) {
  const names = Object.keys(createRequire(import.meta.url)(join(dist, cjs))).filter((n) => n !== '__esModule');
  writeFileSync(join(dist, cjs.replace(/\.cjs$/, '.mjs')), `import cjs from './${cjs}';\n\nexport const { ${names.join(', ')} } = cjs;\n`);
  return names.length;
}
const exported = esmWrapper('index.cjs');
esmWrapper('schema.cjs');
esmWrapper('sqlite.cjs');
esmWrapper('keyv.cjs');
for (const { name } of engines) esmWrapper(`${name}.cjs`);

/**
 * Bundles tsc's declarations of `entry` into one file holding only what the
 * entry exports (so an app that imports the root type-checks nothing of
 * drizzle-orm or better-sqlite3), written twice: `.d.cts` for require and
 * `.d.mts` for import. Their text is the same; the extension tells TypeScript
 * in which module system to resolve the imports of drizzle-orm they keep.
 */
async function bundleDeclarations(entry, name) {
  const bundle = await rollup({ input: join(declarations, entry), plugins: [dts()], logLevel: 'warn' });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  const [{ code }] = output;
  for (const ext of ['cts', 'mts']) writeFileSync(join(dist, `${name}.d.${ext}`), code);
}
await bundleDeclarations('src/index.d.ts', 'index');
await bundleDeclarations('src/schema/index.d.ts', 'schema');
await bundleDeclarations('src/sqlite/async/index.d.ts', 'sqlite');
await bundleDeclarations('src/keyv/index.d.ts', 'keyv');
for (const { entry, name } of engines) await bundleDeclarations(entry.replace(/\.ts$/, '.d.ts'), name);
rmSync(join(root, '.build'), { recursive: true, force: true });
console.log(`built ${relative(root, dist)}/ (${exported} exports)`);
