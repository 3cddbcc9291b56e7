// A store changed under an open handle by another connection: dropped,
// recreated with another serializer, or migrated by a newer release. The
// handle must notice on its next write (and when a read meets a row it cannot
// decode), refuse with an error naming the cause, and write nothing.
import Database from 'better-sqlite3';
import { KVDatabase, KVStore, STORE_FORMAT_VERSION } from '../src';
import { tempDb, thrown, withRaw } from './helpers';

type Store = KVStore<unknown>;

/** Every write of the store API, each as a call that should be refused. */
const writes: [string, (s: Store) => unknown][] = [
  ['set', (s) => s.set('mine', 1)],
  ['add', (s) => s.add('mine', 1)],
  ['incr', (s) => s.incr('counter')],
  ['decr', (s) => s.decr('counter')],
  ['setMany', (s) => s.setMany({ mine: 1, also: 2 })],
  ['touch', (s) => s.touch('theirs', 60)],
  ['delete', (s) => s.delete('theirs')],
  ['pop', (s) => s.pop('theirs')],
  ['clear', (s) => s.clear()],
  ['clear with a prefix', (s) => s.clear({ prefix: 'the' })],
  ['purgeExpired', (s) => s.purgeExpired()],
];

/** The rows of `table`, as the raw driver sees them. */
const rows = (path: string, table: string) =>
  withRaw(path, (db) => db.prepare(`SELECT key, hex(value) AS value FROM "${table}" ORDER BY key`).all());

describe('a store recreated with another serializer by another connection', () => {
  it.each(writes)('refuses %s with ERR_KV_SERIALIZER_MISMATCH and writes nothing', (_name, write) => {
    const path = tempDb();
    const mine = new KVStore(path, 'kv');
    mine.set('theirs', 'json value');
    mine.set('counter', 1);

    const other = new KVDatabase(path);
    other.drop('kv');
    const recreated = other.store('kv', { serializer: 'v8' });
    recreated.set('theirs', new Map([[1, 2]]));
    const before = rows(path, 'kv');

    const err = thrown(() => write(mine));
    expect(err.code).toBe('ERR_KV_SERIALIZER_MISMATCH');
    expect(err.message).toMatch(/recreated with the "v8" serializer.*writes "json".*wrote nothing/);
    expect(rows(path, 'kv')).toEqual(before);
    expect(recreated.get('theirs')).toEqual(new Map([[1, 2]]));
    other.close();
    mine.close();
  });

  it('explains a row it cannot decode by the recreation, not as damage', () => {
    const path = tempDb();
    const mine = new KVStore(path, 'kv');
    mine.set('k', 'json');
    const other = new KVDatabase(path);
    other.drop('kv');
    other.store('kv', { serializer: 'v8' }).set('k', 'v8 bytes');
    expect(thrown(() => mine.get('k')).code).toBe('ERR_KV_SERIALIZER_MISMATCH');
    expect(thrown(() => mine.items()).code).toBe('ERR_KV_SERIALIZER_MISMATCH');
    other.close();
    mine.close();
  });
});

describe('a store dropped by another connection', () => {
  it.each(writes)('refuses %s with ERR_KV_NO_SUCH_STORE', (_name, write) => {
    const path = tempDb();
    const mine = new KVStore(path, 'kv');
    mine.set('theirs', 1);
    const other = new KVDatabase(path);
    other.drop('kv');
    const err = thrown(() => write(mine));
    expect(err.code).toBe('ERR_KV_NO_SUCH_STORE');
    expect(err.message).toMatch(/store "kv" was dropped by another connection/);
    expect(other.stores()).toEqual([]);
    other.close();
    mine.close();
  });

  it('answers reads with ERR_KV_NO_SUCH_STORE too', () => {
    const path = tempDb();
    const mine = new KVStore(path, 'kv');
    mine.set('k', 1);
    new KVDatabase(path).drop('kv');
    expect(thrown(() => mine.get('k')).code).toBe('ERR_KV_NO_SUCH_STORE');
    expect(thrown(() => mine.keys()).code).toBe('ERR_KV_NO_SUCH_STORE');
    mine.close();
  });
});

describe('a store migrated to a newer format by another process', () => {
  /** What a newer release's migration would do: a new column, and the store's version raised. */
  function migrateToNext(path: string, table: string): void {
    withRaw(path, (db) => {
      db.exec(`ALTER TABLE "${table}" ADD labels TEXT NOT NULL DEFAULT '[]'`);
      db.prepare('UPDATE drizzle_kv_stores SET version = ? WHERE name = ?').run(STORE_FORMAT_VERSION + 1, table);
    });
  }

  it.each(writes)('refuses %s with ERR_KV_FORMAT_TOO_NEW and writes no row of the old format', (_name, write) => {
    const path = tempDb();
    const mine = new KVStore(path, 'kv');
    mine.set('theirs', 'kept');
    mine.set('counter', 1);
    migrateToNext(path, 'kv');
    const before = rows(path, 'kv');

    const err = thrown(() => write(mine));
    expect(err.code).toBe('ERR_KV_FORMAT_TOO_NEW');
    expect(err.message).toContain(`migrated to format version ${STORE_FORMAT_VERSION + 1} by a newer drizzle-kv`);
    expect(rows(path, 'kv')).toEqual(before);
    mine.close();
  });

  it('refuses a write inside a transaction, rolling back what the callback wrote before it', () => {
    const path = tempDb();
    const db = new KVDatabase(path);
    const mine = db.store('kv');
    const neighbour = db.store('neighbour');
    migrateToNext(path, 'kv');
    const err = thrown(() =>
      db.transaction(() => {
        neighbour.set('n', 1);
        mine.set('a', 1);
      }),
    );
    expect(err.code).toBe('ERR_KV_FORMAT_TOO_NEW');
    expect(rows(path, 'kv')).toEqual([]);
    expect(neighbour.size).toBe(0);
    db.close();
  });

  it('keeps reads working: they answer from the rows as they are', () => {
    const path = tempDb();
    const mine = new KVStore(path, 'kv');
    mine.set('k', { a: 1 });
    migrateToNext(path, 'kv');
    expect(mine.get('k')).toEqual({ a: 1 });
    expect(mine.has('k')).toBe(true);
    mine.close();
  });
});

describe('a store whose registry row is untouched', () => {
  it('goes on writing after another connection writes, migrates nothing and drops another store', () => {
    const path = tempDb();
    const mine = new KVStore(path, 'kv');
    const other = new KVDatabase(path);
    other.store('kv').set('x', 1);
    other.store('elsewhere').set('y', 2);
    other.drop('elsewhere');
    other.migrate();
    mine.set('z', 3);
    expect(mine.pop('x')).toBe(1);
    expect(mine.keys()).toEqual(['z']);
    other.close();
    mine.close();
  });

  it('on an app connection with schema external (no registry row), writes without a guard', () => {
    const path = tempDb();
    new KVStore(path, 'kv').close();
    const app = new Database(path);
    const store = new KVStore(app, { table: 'kv', schema: 'external' });
    store.set('k', 1);
    expect(store.pop('k')).toBe(1);
    expect(store.delete('k')).toBe(false);
    store.close();
    app.close();
  });
});
