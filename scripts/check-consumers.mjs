#!/usr/bin/env node
// What an app that installs drizzle-kv gets, checked on the packed tarball in
// consumer projects outside the repository:
//   node scripts/check-consumers.mjs [--keep] [--only <part of a check's name>]
// - the tarball: exactly what it should ship; attw (types for node10, node16 from
//   CJS and ESM, bundler) and publint report nothing;
// - an ESM TypeScript app (nodenext, strict, skipLibCheck: false) using the store,
//   and the README's Drizzle-app snippet on the newest drizzle-orm of the range;
// - a CommonJS JavaScript app;
// - a Keyv app on drizzle-kv/keyv (ESM TypeScript and CommonJS);
// - an app on the oldest drizzle-orm and better-sqlite3 of the peer ranges;
// - an app bundled with `esbuild --minify`, rebuilt with two classes swapped:
//   no cached result crosses from one class to the other.
// Prints one line per check and ends with "N passed, N failed"; exits 1 if any failed.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
// --only <text>: run only the checks whose name contains it (the tarball is always built).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const work = mkdtempSync(join(tmpdir(), 'drizzle-kv-consumers-'));
const installed = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
const OLDEST = { 'drizzle-orm': '0.44.0', 'better-sqlite3': '11.0.0' };

let passed = 0;
let failed = 0;
function check(name, fn) {
  if (only !== undefined && !name.includes(only)) return;
  try {
    fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}\n${String(err.stdout ?? '')}${String(err.stderr ?? '')}${err.message}`.replaceAll('\n', '\n    '));
  }
}
function assertEqual(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const node = (args, cwd) => run(process.execPath, args, cwd);
const npm = (args, cwd) => run('npm', ['--no-audit', '--no-fund', '--loglevel=error', ...args], cwd);
const write = (dir, files) => {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), typeof text === 'string' ? text : `${JSON.stringify(text, null, 2)}\n`);
  }
};
/** The README's fenced TypeScript block that contains `marker`. */
function readmeSnippet(marker) {
  const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const found = blocks.find((b) => b.includes(marker));
  if (found === undefined) throw new Error(`no README snippet contains ${marker}`);
  return found;
}

/**
 * A consumer project with the tarball and these versions installed. When the
 * app's better-sqlite3 is the version this repository built, its addon is
 * copied rather than compiled again (the same source, compiler and Node.js give
 * the same addon); any other version is built by its own install script.
 */
function consumer(name, dependencies) {
  const dir = join(work, name);
  write(dir, { 'package.json': { name: `consumer-${name}`, private: true, dependencies } });
  const reuseBuild = dependencies['better-sqlite3'] === installed('better-sqlite3');
  npm(['install', ...(reuseBuild ? ['--ignore-scripts'] : [])], dir);
  if (reuseBuild) cpSync(join(root, 'node_modules/better-sqlite3/build'), join(dir, 'node_modules/better-sqlite3/build'), { recursive: true });
  return dir;
}
/** Type-checks and compiles `dir` with the TypeScript installed in the consumer project `project`. */
const tsc = (project, dir) => node([join(project, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir);

// --- the tarball --------------------------------------------------------------
node([join(root, 'scripts/build.mjs')], root);
const tarball = join(work, npm(['pack', '--pack-destination', work, '--json'], root).match(/"filename":\s*"([^"]+)"/)[1]);

check('the tarball ships the bundles, their declarations, the docs and the package files, and nothing else', () => {
  const files = run('tar', ['-tzf', tarball]).trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
  const expected = [
    'CHANGELOG.md', 'LICENSE', 'README.md',
    'dist/cli.cjs', 'dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.mts', 'dist/index.mjs',
    ...['keyv', 'libsql', 'pg', 'schema', 'sqlite'].flatMap((entry) => ['cjs', 'd.cts', 'd.mts', 'mjs'].map((ext) => `dist/${entry}.${ext}`)),
    'keyv/package.json', 'libsql/package.json', 'package.json', 'pg/package.json', 'schema/package.json', 'sqlite/package.json',
  ];
  assertEqual(files.filter((f) => !f.startsWith('docs/')), expected, 'files');
  if (!files.includes('docs/guarantees.md')) throw new Error('docs/ is not shipped, so the README links to it are dead');
});
check('attw: no problem for node10, node16 (CJS and ESM) and bundler resolution', () => {
  node([join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarball, '--format', 'ascii', '--profile', 'strict'], root);
});
check('publint: nothing to report', () => {
  const out = node([join(root, 'node_modules/publint/src/cli.js'), tarball, '--strict'], root);
  if (/Suggestions|Warnings|Errors/.test(out)) throw new Error(out);
});

// --- the newest of the range: ESM TypeScript, CommonJS JavaScript, a minified bundle ----
let currentProject;
const project = () => (currentProject ??= consumer('current', {
  'drizzle-kv': `file:${tarball}`,
  'drizzle-orm': installed('drizzle-orm'),
  'better-sqlite3': installed('better-sqlite3'),
  typescript: installed('typescript'),
  '@types/node': installed('@types/node'),
  '@types/better-sqlite3': installed('@types/better-sqlite3'),
  esbuild: installed('esbuild'),
}));
const esmCompilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, outDir: 'out', types: ['node'] };

/** Type-checks and runs the README's Drizzle-app snippet as an ESM TypeScript app in `folder` of the consumer project. */
function runDrizzleAppSnippet(consumerProject, folder) {
  const dir = join(consumerProject, folder);
  write(dir, {
    'package.json': { type: 'module' },
    // drizzle-orm's own declarations do not pass skipLibCheck: false; an app on it sets skipLibCheck.
    'tsconfig.json': { compilerOptions: { ...esmCompilerOptions, skipLibCheck: true, lib: ['es2023', 'esnext.disposable'] }, files: ['app.ts'] },
    'app.ts': `${readmeSnippet('const kv = new KVDatabase(db)')}\nconsole.log('ran');\n`,
  });
  tsc(consumerProject, dir);
  node(['out/app.js'], dir);
}

check('ESM TypeScript (nodenext, skipLibCheck: false): an app that uses the store type-checks and runs', () => {
  const current = project();
  const dir = join(current, 'esm');
  write(dir, {
    'package.json': { type: 'module' },
    'tsconfig.json': { compilerOptions: { ...esmCompilerOptions, skipLibCheck: false, lib: ['es2023', 'esnext.disposable'] }, files: ['app.ts'] },
    'app.ts': `import { KVStore, KVDatabase, KVError, scache, type Ttl } from 'drizzle-kv';
      const ttl: Ttl = 60;
      const store = new KVStore<{ n: number }>('app.db', { table: 'things' });
      store.set('k', { n: 1 }, ttl);
      const twice = scache({ store: store as KVStore, name: 'twice' })((x: number) => x * 2);
      let code: string | undefined;
      try { store.set('bad', { n: NaN }); } catch (err) { if (err instanceof KVError) code = err.code; }
      const db = new KVDatabase('app.db');
      console.log(JSON.stringify([store.get('k'), twice(21), code, db.stores().map((s) => s.name)]));
      db.close();
      store.close();
    `,
  });
  tsc(current, dir);
  assertEqual(JSON.parse(node(['out/app.js'], dir)), [{ n: 1 }, 42, 'ERR_KV_INVALID_VALUE', ['things']], 'output');
});

check("ESM TypeScript: the README's Drizzle-app snippet type-checks and runs on drizzle-orm " + installed('drizzle-orm'), () => {
  runDrizzleAppSnippet(project(), 'esm-drizzle');
});

check("ESM: types and run time agree that there is no default export (import kv from 'drizzle-kv')", () => {
  const current = project();
  const dir = join(current, 'esm-default');
  write(dir, {
    'package.json': { type: 'module' },
    'tsconfig.json': { compilerOptions: { ...esmCompilerOptions, skipLibCheck: true }, files: ['app.ts'] },
    'app.ts': "import kv from 'drizzle-kv';\nconsole.log(typeof kv);\n",
    'app.mjs': "import kv from 'drizzle-kv';\nconsole.log(typeof kv);\n",
  });
  const types = spawnSync(process.execPath, [join(current, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], { cwd: dir, encoding: 'utf8' });
  if (types.status === 0 || !/TS1192|has no default export/.test(types.stdout)) throw new Error(`tsc accepted the default import:\n${types.stdout}`);
  const runtime = spawnSync(process.execPath, ['app.mjs'], { cwd: dir, encoding: 'utf8' });
  if (runtime.status === 0) throw new Error('the default import ran');
});

check('CommonJS JavaScript: require() of both entries works', () => {
  const current = project();
  const dir = join(current, 'cjs');
  write(dir, {
    'package.json': { type: 'commonjs' },
    'app.js': `const { KVStore, isKVError } = require('drizzle-kv');
      const { kvTable } = require('drizzle-kv/schema');
      const { getTableConfig } = require('drizzle-orm/sqlite-core');
      const store = new KVStore('app.db');
      console.log(JSON.stringify([store.incr('n'), store.incr('n'), typeof isKVError, getTableConfig(kvTable('t')).name]));
      store.close();`,
  });
  assertEqual(JSON.parse(node(['app.js'], dir)), [1, 2, 'function', 't'], 'output');
});

check('esbuild --minify: an app rebuilt with two classes swapped gets no result of the other class', () => {
  const current = project();
  const dir = join(current, 'minified');
  const classes = {
    user: `class UserApi {
      @scache({ store, instanceKey: null })
      get(id: number) { return 'user ' + id; }
    }`,
    order: `class OrderApi {
      @scache({ store, instanceKey: null })
      get(id: number) { return 'order ' + id; }
    }`,
  };
  const app = (first, second) => `import { KVStore, scache } from 'drizzle-kv';
    const store = new KVStore(process.argv[2]);
    const getUser = scache({ store })(function getUser(id: number) { return { id, name: 'user ' + id }; });
    ${first}
    ${second}
    console.log(JSON.stringify([new UserApi().get(1), new OrderApi().get(1), getUser(7).name]));
    store.close();`;
  const build = (source) => {
    write(dir, { 'app.ts': source });
    run(join(current, 'node_modules/.bin/esbuild'), ['app.ts', '--bundle', '--minify', '--platform=node', '--target=node20', '--external:better-sqlite3', '--outfile=app.cjs'], dir);
  };
  const cache = join(dir, 'cache.db');
  build(app(classes.user, classes.order));
  assertEqual(JSON.parse(node(['app.cjs', cache], dir)), ['user 1', 'order 1', 'user 7'], 'first build');
  // Keyed by name alone, the swap gives each class the other's short name, and so its cached result.
  build(app(classes.order, classes.user));
  assertEqual(JSON.parse(node(['app.cjs', cache], dir)), ['user 1', 'order 1', 'user 7'], 'rebuilt with the classes swapped');
});

check('the drizzle-kv command of an installed package: set and get on a SQLite file, from node_modules/.bin', () => {
  const current = project();
  const dir = join(current, 'bin');
  mkdirSync(dir, { recursive: true });
  const bin = join(current, 'node_modules/.bin/drizzle-kv');
  const set = spawnSync(bin, ['set', 'cache.db', 'k', '{"a":1}'], { cwd: dir, encoding: 'utf8' });
  if (set.status !== 0) throw new Error(`set failed (${set.status}): ${set.stderr}`);
  const get = spawnSync(bin, ['get', 'cache.db', 'k'], { cwd: dir, encoding: 'utf8' });
  assertEqual([get.status, get.stdout], [0, '{"a":1}\n'], 'get');
});

check('a SQLite app installs neither pg nor @libsql/client (optional peers)', () => {
  const current = project();
  const present = ['pg', '@libsql/client'].filter((name) => spawnSync('test', ['-e', join(current, 'node_modules', name)]).status === 0);
  assertEqual(present, [], 'server drivers installed beside a SQLite app');
});

// --- a PostgreSQL app: no better-sqlite3 -------------------------------------------
check('ESM TypeScript on PostgreSQL (nodenext, strict): drizzle-kv/pg type-checks and runs, without better-sqlite3 installed', () => {
  const pgApp = consumer('pg', {
    'drizzle-kv': `file:${tarball}`,
    'drizzle-orm': installed('drizzle-orm'),
    pg: installed('pg'),
    '@types/pg': installed('@types/pg'),
    typescript: installed('typescript'),
    '@types/node': installed('@types/node'),
  });
  if (spawnSync('test', ['-e', join(pgApp, 'node_modules/better-sqlite3')]).status === 0) throw new Error('better-sqlite3 was installed for a PostgreSQL app');
  const dir = join(pgApp, 'app');
  const schema = `consumer_${process.pid}_${Date.now().toString(36)}`;
  write(dir, {
    'package.json': { type: 'module' },
    'tsconfig.json': { compilerOptions: { ...esmCompilerOptions, skipLibCheck: true, lib: ['es2023', 'esnext.disposable'] }, files: ['app.ts'] },
    'app.ts': `import { openStore, pgKvTable, type AsyncKVStore } from 'drizzle-kv/pg';
      import { isKVError } from 'drizzle-kv/pg';
      import pg from 'pg';
      const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
      const store: AsyncKVStore<{ n: number }> = await openStore<{ n: number }>(url, { table: 'things', pgSchema: '${schema}' });
      await store.set('k', { n: 1 }, 60);
      let code: string | undefined;
      try { await store.set('bad\u0000key', { n: 2 }); } catch (err) { if (isKVError(err)) code = err.code; }
      const out = [await store.get('k'), await store.incr('hits'), code, pgKvTable('things').key.name];
      await store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query('DROP SCHEMA "${schema}" CASCADE');
      await client.end();
      console.log(JSON.stringify(out));
    `,
  });
  tsc(pgApp, dir);
  assertEqual(JSON.parse(node(['out/app.js'], dir)), [{ n: 1 }, 1, 'ERR_KV_INVALID_KEY', 'key'], 'output');
});

// --- a libSQL app: no better-sqlite3 ------------------------------------------------
check('ESM TypeScript on libSQL (nodenext, strict): drizzle-kv/libsql type-checks and runs on a file: URL, without better-sqlite3 installed', () => {
  const libsqlApp = consumer('libsql', {
    'drizzle-kv': `file:${tarball}`,
    'drizzle-orm': installed('drizzle-orm'),
    '@libsql/client': installed('@libsql/client'),
    typescript: installed('typescript'),
    '@types/node': installed('@types/node'),
  });
  if (spawnSync('test', ['-e', join(libsqlApp, 'node_modules/better-sqlite3')]).status === 0) throw new Error('better-sqlite3 was installed for a libSQL app');
  const dir = join(libsqlApp, 'app');
  write(dir, {
    'package.json': { type: 'module' },
    'tsconfig.json': { compilerOptions: { ...esmCompilerOptions, skipLibCheck: true, lib: ['es2023', 'esnext.disposable'] }, files: ['app.ts'] },
    'app.ts': `import { openStore, scache, type AsyncKVStore } from 'drizzle-kv/libsql';
      const store: AsyncKVStore<number> = await openStore<number>('file:app.db', { table: 'things' });
      await store.setMany([['a', 1], ['b', 2]]);
      const twice = scache({ store, name: 'twice' })(async (x: number) => x * 2);
      const out = [await store.keys(), await store.incr('a'), await twice(21), await twice(21)];
      await store.close();
      console.log(JSON.stringify(out));
    `,
  });
  tsc(libsqlApp, dir);
  assertEqual(JSON.parse(node(['out/app.js'], dir)), [['a', 'b'], 2, 42, 42], 'output');
});

// --- a Keyv app: drizzle-kv/keyv on the app's own keyv -------------------------------
check('ESM TypeScript and CommonJS with Keyv (nodenext, skipLibCheck: false): drizzle-kv/keyv type-checks and runs, one instance for import and require', () => {
  const keyvApp = consumer('keyv', {
    'drizzle-kv': `file:${tarball}`,
    'better-sqlite3': installed('better-sqlite3'),
    keyv: installed('keyv'),
    typescript: installed('typescript'),
    '@types/node': installed('@types/node'),
  });
  const dir = join(keyvApp, 'app');
  write(dir, {
    'package.json': { type: 'module' },
    'tsconfig.json': { compilerOptions: { ...esmCompilerOptions, skipLibCheck: false, lib: ['es2023', 'esnext.disposable'] }, files: ['app.ts'] },
    'app.ts': `import Keyv from 'keyv';
      import { KeyvDrizzleKv, keyvSerializer } from 'drizzle-kv/keyv';
      import { KVStore } from 'drizzle-kv';
      import { createRequire } from 'node:module';
      const adapter = new KeyvDrizzleKv({ path: 'app.db', table: 'cache' });
      const keyv = new Keyv<{ n: number }>({ store: adapter, namespace: 'app' });
      await keyv.set('a', { n: 1 }, 60_000);
      await keyv.set('b', { n: 2 });
      const listed: string[] = [];
      for await (const [key] of keyv.iterator?.(undefined) ?? []) listed.push(key as string);
      const store = new KVStore('app.db', { table: 'cache', serializer: keyvSerializer });
      const ttl = Math.round(store.ttl('app:a') ?? 0);
      store.close();
      const required = createRequire(import.meta.url)('drizzle-kv/keyv') as typeof import('drizzle-kv/keyv');
      const out = [await keyv.get('a'), listed, ttl, await keyv.get(['a', 'zz']), required.KeyvDrizzleKv === KeyvDrizzleKv];
      await keyv.disconnect();
      console.log(JSON.stringify(out));
    `,
    'app.cjs': `const { Keyv } = require('keyv');
      const { KeyvDrizzleKv } = require('drizzle-kv/keyv');
      const keyv = new Keyv({ store: new KeyvDrizzleKv('app.db'), namespace: 'cjs' });
      keyv.set('k', 'v').then(() => keyv.get('k')).then(async (v) => { await keyv.disconnect(); console.log(JSON.stringify(v)); });
    `,
  });
  tsc(keyvApp, dir);
  assertEqual(JSON.parse(node(['out/app.js'], dir)), [{ n: 1 }, ['a', 'b'], 60, [{ n: 1 }, null], true], 'ESM output');
  assertEqual(JSON.parse(node(['app.cjs'], dir)), 'v', 'CommonJS output');
});

// --- the oldest of the range ---------------------------------------------------
check(`the oldest supported peers (drizzle-orm ${OLDEST['drizzle-orm']}, better-sqlite3 ${OLDEST['better-sqlite3']}): the Drizzle-app snippet type-checks and runs`, () => {
  const oldest = consumer('oldest', {
    'drizzle-kv': `file:${tarball}`,
    ...OLDEST,
    typescript: installed('typescript'),
    '@types/node': installed('@types/node'),
    '@types/better-sqlite3': installed('@types/better-sqlite3'),
  });
  const versions = ['drizzle-orm', 'better-sqlite3'].map((n) => JSON.parse(readFileSync(join(oldest, 'node_modules', n, 'package.json'), 'utf8')).version);
  assertEqual(versions, [OLDEST['drizzle-orm'], OLDEST['better-sqlite3']], 'installed versions (no nested copy of a newer one)');
  runDrizzleAppSnippet(oldest, 'app');
  const nested = run('find', [join(oldest, 'node_modules'), '-mindepth', '3', '-name', 'package.json', '-path', '*node_modules/*/node_modules/*']).split('\n');
  const copies = nested.filter((p) => /node_modules\/(drizzle-orm|better-sqlite3)\/package\.json$/.test(p));
  assertEqual(copies, [], 'nested copies of drizzle-orm or better-sqlite3');
});

if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
console.log(`consumers: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
