import Database from 'better-sqlite3';
import { KVDatabase, KVStore, STORE_FORMAT_VERSION } from '../src';
import { integrity, tempDb, thrown, withRaw } from './helpers';

describe('KVDatabase', () => {
  it('hands out independent named stores on one connection, and lists them', () => {
    const path = tempDb();
    using db = new KVDatabase(path);
    expect(db.stores()).toEqual([]);
    const users = db.store('users');
    const sessions = db.store('sessions', { serializer: 'v8' });
    users.set('k', 'user');
    sessions.set('k', new Map([['token', 'x']]));
    expect(users.get('k')).toBe('user');
    expect(sessions.get('k')).toEqual(new Map([['token', 'x']]));
    const listed = db.stores();
    expect(listed.map((s) => [s.name, s.version, s.serializer])).toEqual([
      ['sessions', STORE_FORMAT_VERSION, 'v8'],
      ['users', STORE_FORMAT_VERSION, 'json'],
    ]);
    expect(listed[0]?.createdAt).toBeGreaterThan(0);
  });

  it('lets a store opened by path and one opened from the database see the same data', () => {
    const path = tempDb();
    using db = new KVDatabase(path);
    db.store('shared').set('k', 1);
    using direct = new KVStore(path, 'shared');
    expect(direct.get('k')).toBe(1);
  });

  it('drops a store with its data, closing open handles on it', () => {
    const path = tempDb();
    using db = new KVDatabase(path);
    const doomed = db.store('doomed');
    const kept = db.store('kept');
    doomed.set('k', 1);
    kept.set('k', 2);
    expect(db.drop('doomed')).toBe(true);
    expect(doomed.closed).toBe(true);
    expect(db.drop('doomed')).toBe(false);
    expect(db.stores().map((s) => s.name)).toEqual(['kept']);
    expect(kept.get('k')).toBe(2);
    const objects = withRaw(path, (raw) => raw.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'doomed%'").pluck().all());
    expect(objects).toEqual([]);
    expect(db.store('doomed').get('k')).toBeUndefined();
  });

  it('commits writes to several stores together, or none', () => {
    using db = new KVDatabase(tempDb());
    const a = db.store('a');
    const b = db.store('b');
    expect(() =>
      db.transaction(() => {
        a.set('k', 1);
        b.set('k', 2);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(a.has('k') || b.has('k')).toBe(false);
    db.transaction(() => {
      a.set('k', 1);
      b.incr('n');
    });
    expect([a.get('k'), b.get('n')]).toEqual([1, 1]);
  });

  it('closes its stores when it closes; closing twice is fine', () => {
    const path = tempDb();
    const db = new KVDatabase(path);
    const store = db.store('s');
    store.set('k', 1);
    db.close();
    db.close();
    expect(store.closed).toBe(true);
    expect(thrown(() => store.get('k')).code).toBe('ERR_KV_CLOSED');
    expect(thrown(() => db.store('x')).code).toBe('ERR_KV_CLOSED');
    expect(thrown(() => db.stores()).code).toBe('ERR_KV_CLOSED');
    expect(integrity(path)).toBe('ok');
  });

  it('validates names and options before touching anything', () => {
    using db = new KVDatabase(':memory:');
    expect(thrown(() => db.store('x; DROP TABLE y')).code).toBe('ERR_KV_INVALID_NAME');
    expect(thrown(() => db.store('ok', { table: 'no' } as never)).code).toBe('ERR_KV_INVALID_OPTION');
    expect(thrown(() => db.drop('a b')).code).toBe('ERR_KV_INVALID_NAME');
    expect(db.stores()).toEqual([]);
  });

  it('returns the open store when asked again with the same options, a new one otherwise', () => {
    using db = new KVDatabase(tempDb());
    const first = db.store('x');
    expect(db.store('x')).toBe(first);
    const clock = { now: () => 0 };
    const other = db.store('x', { clock });
    expect(other).not.toBe(first);
    expect(db.store('x', { clock })).toBe(other);
    first.close();
    const again = db.store('x');
    expect(again).not.toBe(first);
    expect(again.closed).toBe(false);
  });

  it('keeps open handles working when a drop fails', () => {
    const path = tempDb();
    using db = new KVDatabase(path, { timeout: 50 });
    const store = db.store('a');
    store.set('k', 1);
    const locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    try {
      expect(thrown(() => db.drop('a')).code).toBe('ERR_KV_BUSY');
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(store.closed).toBe(false);
    expect(store.get('k')).toBe(1);
  });
});


describe('a store written by a newer release', () => {
  /** Raises a store's recorded format, as a newer release's migration would. */
  function makeNewer(path: string, name: string): void {
    withRaw(path, (raw) => raw.prepare('UPDATE drizzle_kv_stores SET version = ? WHERE name = ?').run(STORE_FORMAT_VERSION + 1, name));
  }

  it('is reported by inspect() as newer, not as current', () => {
    const path = tempDb();
    const db = new KVDatabase(path);
    db.store('old').set('k', 1);
    db.store('future').set('k', 1);
    makeNewer(path, 'future');
    const info = db.inspect();
    expect(info.stores.map((s) => [s.name, s.pending, s.newer])).toEqual([
      ['future', false, true],
      ['old', false, false],
    ]);
    expect(info.newer).toBe(true);
    expect(info.pending).toBe(false);
    db.close();
  });

  it('is not dropped unless forced', () => {
    const path = tempDb();
    const db = new KVDatabase(path);
    db.store('future').set('k', 1);
    makeNewer(path, 'future');
    const err = thrown(() => db.drop('future'));
    expect(err.code).toBe('ERR_KV_FORMAT_TOO_NEW');
    expect(err.message).toMatch(/not dropped.*force: true/);
    expect(withRaw(path, (raw) => raw.prepare('SELECT count(*) FROM future').pluck().get())).toBe(1);
    expect(db.stores().map((s) => s.name)).toEqual(['future']);
    expect(thrown(() => db.drop('future', { force: 'yes' as unknown as boolean })).code).toBe('ERR_KV_INVALID_OPTION');
    expect(thrown(() => db.drop('future', { forced: true } as never)).code).toBe('ERR_KV_INVALID_OPTION');
    expect(db.drop('future', { force: true })).toBe(true);
    expect(db.stores()).toEqual([]);
    db.close();
  });
});
