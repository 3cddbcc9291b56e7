import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { databaseSteps } from '../migrations/database';
import type { MigrationStep } from '../migrations/step';
import { storeSteps } from '../migrations/store';
import { DATABASE_FORMAT_VERSION, KVDatabase, KVStore, STORE_FORMAT_VERSION } from '../src';
import { openConnection } from '../src/sqlite/connection';
import { type Format, ensureStore } from '../src/sqlite/migrator';
import { tempDb, thrown, withRaw } from './helpers';

const options = { timeout: 2000, readonly: false, durability: 'normal', mmapSize: 0 } as const;

/** The current format plus one more per-store step, as a future release would ship it. */
const nextFormat: Format = {
  database: databaseSteps,
  store: [
    ...storeSteps,
    {
      version: storeSteps.length + 1,
      tag: '9999_priority',
      statements: ['ALTER TABLE `__kv_store__` ADD `priority` integer DEFAULT 0 NOT NULL;'],
    } satisfies MigrationStep,
  ],
};

const CURRENT_COLUMNS = ['key', 'value', 'expires_at', 'updated_at', 'size', 'accessed_at', 'hits', 'tags'];

function columns(path: string, table: string): string[] {
  return withRaw(path, (db) => (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
}

describe('migrations', () => {
  it('records the formats of a fresh file in its own bookkeeping, never in __drizzle_migrations', () => {
    const path = tempDb();
    new KVStore(path, 'a').close();
    withRaw(path, (db) => {
      expect(db.prepare("SELECT value FROM drizzle_kv_meta WHERE name = 'format'").pluck().get()).toBe(String(DATABASE_FORMAT_VERSION));
      expect(db.prepare('SELECT name, version, serializer FROM drizzle_kv_stores').all()).toEqual([
        { name: 'a', version: STORE_FORMAT_VERSION, serializer: 'json' },
      ]);
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = '__drizzle_migrations'").pluck().get()).toBe(0);
    });
  });

  it('applies a pending step once, to every store it opens, keeping the rows', () => {
    const path = tempDb();
    const old = new KVStore(path, 'a');
    old.set('k', { v: 1 });
    old.close();
    new KVStore(path, 'b').close();

    const conn = openConnection(path, options);
    ensureStore(conn, 'a', 'json', nextFormat);
    ensureStore(conn, 'a', 'json', nextFormat); // nothing pending the second time
    conn.close();

    expect(columns(path, 'a')).toEqual([...CURRENT_COLUMNS, 'priority']);
    expect(columns(path, 'b')).toEqual(CURRENT_COLUMNS); // not opened: not migrated yet
    withRaw(path, (db) => {
      expect(db.prepare('SELECT name, version FROM drizzle_kv_stores ORDER BY name').all()).toEqual([
        { name: 'a', version: STORE_FORMAT_VERSION + 1 },
        { name: 'b', version: STORE_FORMAT_VERSION },
      ]);
      expect(db.prepare("SELECT value FROM a WHERE key = 'k'").pluck().get()).toBe('{"v":1}');
    });
  });

  it('refuses a store whose format is newer than the library, naming both versions', () => {
    const path = tempDb();
    const conn = openConnection(path, options);
    ensureStore(conn, 'a', 'json', nextFormat);
    conn.close();
    const err = thrown(() => new KVStore(path, 'a'));
    expect(err.code).toBe('ERR_KV_FORMAT_TOO_NEW');
    expect(err.message).toContain(`format version ${STORE_FORMAT_VERSION + 1}`);
    expect(err.message).toContain(`version ${STORE_FORMAT_VERSION} this drizzle-kv supports`);
  });

  it('refuses a file whose database-level format is newer than the library', () => {
    const path = tempDb();
    new KVStore(path, 'a').close();
    withRaw(path, (db) => db.prepare("UPDATE drizzle_kv_meta SET value = '99' WHERE name = 'format'").run());
    for (const open of [() => new KVStore(path, 'a'), () => new KVStore(path, 'b'), () => new KVDatabase(path)]) {
      const err = thrown(open);
      expect(err.code).toBe('ERR_KV_FORMAT_TOO_NEW');
      expect(err.message).toContain('format version 99');
      expect(err.message).toContain(`version ${DATABASE_FORMAT_VERSION} this drizzle-kv supports`);
    }
    expect(withRaw(path, (db) => db.prepare('SELECT count(*) FROM sqlite_master WHERE name = ?').pluck().get('b'))).toBe(0);
  });

  it('refuses to migrate through a read-only open', () => {
    const path = tempDb();
    new KVStore(path, 'a').close();
    const err = thrown(() => {
      const conn = openConnection(path, { timeout: 100, readonly: true, durability: 'normal', mmapSize: 0 });
      try {
        ensureStore(conn, 'a', 'json', nextFormat);
      } finally {
        conn.close();
      }
    });
    expect(err.code).toBe('ERR_KV_MIGRATION_PENDING');
  });

  it('rolls back a failing migration completely', () => {
    const path = tempDb();
    new KVStore(path, 'a').close();
    const broken: Format = {
      database: databaseSteps,
      store: [...storeSteps, { version: storeSteps.length + 1, tag: 'broken', statements: ['ALTER TABLE `__kv_store__` ADD `x` integer;', 'NOT SQL'] }],
    };
    const conn = openConnection(path, options);
    expect(() => ensureStore(conn, 'a', 'json', broken)).toThrow();
    conn.close();
    expect(columns(path, 'a')).toEqual(CURRENT_COLUMNS);
    expect(withRaw(path, (db) => db.prepare('SELECT version FROM drizzle_kv_stores').pluck().get())).toBe(STORE_FORMAT_VERSION);
  });

  it('opens a current store with one read: no write lock, no write', () => {
    const path = tempDb();
    const first = new KVStore(path, 'a');
    first.set('k', 1);
    first.close();
    const locker = new Database(path);
    locker.pragma('journal_mode = WAL');
    locker.exec('BEGIN IMMEDIATE'); // holds the write lock
    const walBefore = statSync(`${path}-wal`).size;
    const started = Date.now();
    const store = new KVStore(path, { table: 'a', timeout: 2000 });
    const elapsed = Date.now() - started;
    expect(store.get('k')).toBe(1);
    const walAfter = statSync(`${path}-wal`).size;
    store.close();
    locker.exec('ROLLBACK');
    locker.close();
    expect(elapsed).toBeLessThan(500); // a wait for the lock would take the full 2 s timeout
    expect(walAfter).toBe(walBefore);
  });

  it('reports a busy file as ERR_KV_BUSY when a migration cannot get the lock', () => {
    const path = tempDb();
    new KVStore(path, 'a').close();
    const locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const err = thrown(() => new KVStore(path, { table: 'b', timeout: 50 }));
      expect(err.code).toBe('ERR_KV_BUSY');
      expect((err.cause as { code: string }).code).toMatch(/^SQLITE_BUSY/);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(withRaw(path, (db) => db.prepare('SELECT name FROM drizzle_kv_stores').pluck().all())).toEqual(['a']);
  });
});
