// Many processes opening a file whose format is older than theirs, at the
// same moment: exactly one must migrate it, the others must find it done.
// A step applied twice fails loudly (ALTER TABLE … ADD of an existing column
// is "duplicate column name"; CREATE TABLE of an existing one "already
// exists"), so a missing lock or a missing re-check under the lock shows up
// as an error line from a child.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { KVStore, STORE_FORMAT_VERSION, DATABASE_FORMAT_VERSION } from '../../src';
import { openConnection } from '../../src/sqlite/connection';
import { CURRENT_FORMAT, type Format, ensureStore } from '../../src/sqlite/migrator';
import { builtEntry, root } from '../built';
import { nextLine } from '../child-lines';
import { integrity, tempDb, withRaw } from '../helpers';

const PROCESSES = 8;

/** The library's internal modules, bundled for test children (tests/internals.ts). */
function internals(): string {
  builtEntry();
  return join(root, 'tests/.built/internals.cjs');
}

/** Starts PROCESSES migrate-next.cjs children, waits until all are loaded, releases them together. */
async function race(path: string, store: string, step: 'priority' | 'priority+db' | 'open'): Promise<string[]> {
  const children = Array.from({ length: PROCESSES }, () =>
    spawn(process.execPath, [join(__dirname, '../children/migrate-next.cjs'), builtEntry(), internals(), path, store, step, 'go']),
  );
  expect(await Promise.all(children.map(nextLine))).toEqual(Array(PROCESSES).fill('ready'));
  const answers = children.map(nextLine);
  for (const child of children) child.stdin.end('go\n');
  return Promise.all(answers);
}

interface Snapshot {
  rows: unknown[];
  columns: string[];
  versions: { name: string; version: number }[];
  databaseVersion: string;
  tables: string[];
}

function snapshot(path: string, table: string): Snapshot {
  return withRaw(path, (db) => ({
    rows: db.prepare(`SELECT key, CAST(value AS TEXT) AS value, expires_at FROM "${table}" ORDER BY key`).all(),
    columns: (db.pragma(`table_info("${table}")`) as { name: string }[]).map((c) => c.name),
    versions: db.prepare('SELECT name, version FROM drizzle_kv_stores ORDER BY name').all() as { name: string; version: number }[],
    databaseVersion: db.prepare("SELECT value FROM drizzle_kv_meta WHERE name = 'format'").pluck().get() as string,
    tables: db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[],
  }));
}

/** A file at the current format: store `race` with rows, and store `other` that nobody opens. */
function currentFile(round: number): string {
  const path = tempDb(`race-${round}.db`);
  const store = new KVStore(path, 'race');
  store.setMany(Array.from({ length: 500 }, (_, i) => [`k:${i}`, { i, text: 'x'.repeat(i % 50) }] as const));
  store.set('expiring', 1, 3600);
  store.close();
  new KVStore(path, 'other').close();
  return path;
}

describe('concurrent migration of an older file', () => {
  it.each([
    ['one store step', 'priority'],
    ['one database step and one store step', 'priority+db'],
  ] as const)(`applies %s exactly once when ${PROCESSES} processes open the file at the same moment (4 rounds)`, async (_what, step) => {
    for (let round = 0; round < 4; round++) {
      const path = currentFile(round);
      const before = snapshot(path, 'race');
      expect(before.columns).not.toContain('priority');

      const lines = await race(path, 'race', step);
      expect(lines).toEqual(Array(PROCESSES).fill('ok'));

      const after = snapshot(path, 'race');
      expect(after.columns.filter((c) => c === 'priority')).toEqual(['priority']);
      expect(after.columns).toEqual([...before.columns, 'priority']);
      expect(after.versions).toEqual([
        { name: 'other', version: STORE_FORMAT_VERSION }, // not opened: not migrated
        { name: 'race', version: STORE_FORMAT_VERSION + 1 },
      ]);
      expect(after.databaseVersion).toBe(String(step === 'priority' ? DATABASE_FORMAT_VERSION : DATABASE_FORMAT_VERSION + 1));
      expect(after.tables.includes('drizzle_kv_next')).toBe(step === 'priority+db');
      expect(after.rows).toEqual(before.rows); // every row intact
      expect(integrity(path)).toBe('ok');
    }
  });

  const previous: Format = { database: CURRENT_FORMAT.database, store: CURRENT_FORMAT.store.slice(0, -1) };
  (previous.store.length > 0 ? it : it.skip)(
    `upgrades a file written by the previous release (store format ${STORE_FORMAT_VERSION - 1}) once, with ${PROCESSES} processes opening it together (3 rounds)`,
    async () => {
      for (let round = 0; round < 3; round++) {
        const path = tempDb(`previous-${round}.db`);
        const conn = openConnection(path, { timeout: 2000, readonly: false, durability: 'normal', mmapSize: 0 });
        ensureStore(conn, 'race', 'json', previous);
        const insert = conn.client.prepare('INSERT INTO race (key, value, expires_at) VALUES (?, ?, ?)');
        for (let i = 0; i < 500; i++) insert.run(`k:${i}`, JSON.stringify({ i }), i % 10 === 0 ? Date.now() + 3_600_000 : null);
        conn.close();
        const before = snapshot(path, 'race');

        const lines = await race(path, 'race', 'open');
        expect(lines).toEqual(Array(PROCESSES).fill('ok'));

        const after = snapshot(path, 'race');
        const fresh = tempDb(`fresh-${round}.db`);
        new KVStore(fresh, 'race').close();
        expect(after.columns).toEqual(snapshot(fresh, 'race').columns); // the shape of a store made by this release
        expect(after.versions).toEqual([{ name: 'race', version: STORE_FORMAT_VERSION }]);
        const pick = (rows: unknown[]) => (rows as { key: string; value: string; expires_at: number | null }[]).filter((r) => r.key !== 'opens');
        expect(pick(after.rows)).toEqual(before.rows);
        using store = new KVStore(path, 'race');
        expect(store.get('opens')).toBe(PROCESSES);
        expect(store.get('k:499')).toEqual({ i: 499 });
        expect(integrity(path)).toBe('ok');
      }
    },
  );
});
