/**
 * The built package as a user installs it: resolved by name through the
 * `exports` map, from a folder that is not the repository.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtEntry, root } from './built';
import { tempDir } from './helpers';

function appFolder(): string {
  builtEntry();
  const app = tempDir();
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(root, join(app, 'node_modules', 'drizzle-kv'), 'dir');
  // The app's own drizzle-orm, which drizzle-kv/schema builds on (a peer dependency).
  symlinkSync(join(root, 'node_modules', 'drizzle-orm'), join(app, 'node_modules', 'drizzle-orm'), 'dir');
  return app;
}

function run(cwd: string, file: string, source: string): string {
  writeFileSync(join(cwd, file), source);
  return execFileSync(process.execPath, [file], { cwd, encoding: 'utf8' }).trim();
}

describe('the built package', () => {
  it('works with require()', () => {
    const app = appFolder();
    const out = run(
      app,
      'main.cjs',
      `const { KVStore, KVDatabase, isKVError } = require('drizzle-kv');
       const store = new KVStore('data/cache.db', 'things');
       store.set('k', { ok: true }, 60);
       console.log(JSON.stringify([store.get('k'), typeof KVDatabase, typeof isKVError]));
       store.close();`,
    );
    expect(JSON.parse(out)).toEqual([{ ok: true }, 'function', 'function']);
    expect(existsSync(join(app, 'data/cache.db'))).toBe(true);
  });

  it('works with import, sharing one module instance with require()', () => {
    const app = appFolder();
    const out = run(
      app,
      'main.mjs',
      `import { KVStore, KVError } from 'drizzle-kv';
       import { createRequire } from 'node:module';
       const required = createRequire(import.meta.url)('drizzle-kv');
       const store = new KVStore(':memory:');
       store.set('n', 41);
       let code;
       try { store.set('bad', 1n); } catch (err) { code = err.code; }
       console.log(JSON.stringify([store.incr('n'), code, required.KVStore === KVStore, required.KVError === KVError]));`,
    );
    expect(JSON.parse(out)).toEqual([42, 'ERR_KV_INVALID_VALUE', true, true]);
  });

  it('ships each entry as a bundle for require and for import, with declarations for each, the command, and nothing else', () => {
    expect(readdirSync(join(root, 'dist')).sort()).toEqual(
      [
        'cli.cjs',
        ...['index', 'keyv', 'libsql', 'pg', 'schema', 'sqlite'].flatMap((entry) => ['cjs', 'd.cts', 'd.mts', 'mjs'].map((ext) => `${entry}.${ext}`)),
      ].sort(),
    );
  });

  it('never loads pg or @libsql/client from the root entry, even with a store open and in use', () => {
    const app = appFolder();
    const out = run(
      app,
      'root-only.cjs',
      `const { KVStore, KVDatabase, scache } = require('drizzle-kv');
       const store = new KVStore('data/root.db', 'things');
       store.set('k', 1); store.incr('n'); store.keys(); store.getMany(['k']);
       scache({ store, name: 'f' })((x) => x + 1)(1);
       new KVDatabase('data/root.db').inspect();
       store.close();
       const servers = Object.keys(require.cache).filter((p) => /node_modules[\\/](pg|pg-[a-z-]+|@libsql)[\\/]/.test(p));
       console.log(JSON.stringify(servers));`,
    );
    expect(JSON.parse(out)).toEqual([]);
    // Nor does the root bundle hold either engine's code (drizzle-orm's core itself carries a few pg-core classes).
    const bundle = readFileSync(join(root, 'dist', 'index.cjs'), 'utf8');
    expect(bundle).not.toMatch(/PgDialect|PgDatabase|pg_advisory|@libsql|require\("pg"\)|node_modules\/(pg|pg-[a-z-]+)\//);
  });

  it('serves drizzle-kv/schema on the app’s own drizzle-orm', () => {
    const app = appFolder();
    const out = run(
      app,
      'schema.mjs',
      `import { kvTable, kvStores } from 'drizzle-kv/schema';
       import { getTableConfig } from 'drizzle-orm/sqlite-core';
       import { is, Table } from 'drizzle-orm';
       const t = kvTable('sessions');
       console.log(JSON.stringify([getTableConfig(t).name, is(t, Table), getTableConfig(kvStores).name]));`,
    );
    expect(JSON.parse(out)).toEqual(['sessions', true, 'drizzle_kv_stores']);
  });

  it('loads neither drizzle-orm nor better-sqlite3 when the root entry is required, until a store opens', () => {
    const app = appFolder();
    const out = run(
      app,
      'lazy.cjs',
      `require('drizzle-kv');
       const loaded = () => Object.keys(require.cache).filter((p) => /node_modules[\\/](drizzle-orm|better-sqlite3)[\\/]/.test(p)).length;
       const before = loaded();
       const { KVStore } = require('drizzle-kv');
       new KVStore(':memory:').close();
       console.log(JSON.stringify([before, loaded() > 0]));`,
    );
    expect(JSON.parse(out)).toEqual([0, true]);
  });

  it('refuses to load on a Node.js older than its floor, saying which it needs', () => {
    // Node.js before 20.16 has no process.getBuiltinModule: take it away, as such a Node.js would not have it.
    const result = spawnSync(process.execPath, ['-e', `delete process.getBuiltinModule; require(${JSON.stringify(builtEntry())})`], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`drizzle-kv needs Node.js 20.16.0 or later; this is Node.js ${process.versions.node}`);
    const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(engines.node).toBe('>=20.16.0');
  });

  it('finds its migrations whatever the working directory is', () => {
    const app = appFolder();
    const elsewhere = tempDir();
    const out = execFileSync(
      process.execPath,
      ['-e', `const { KVStore } = require(${JSON.stringify(join(app, 'node_modules/drizzle-kv'))}); const s = new KVStore('x.db'); s.set('a', 1); console.log(s.get('a'));`],
      { cwd: elsewhere, encoding: 'utf8' },
    ).trim();
    expect(out).toBe('1');
  });
});
