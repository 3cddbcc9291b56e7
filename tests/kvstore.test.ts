import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KVDatabase, KVStore, STORE_FORMAT_VERSION, type Serializer, isKVError } from '../src';
import { KVRepository } from '../src/sqlite/repository';
import { openConnection } from '../src/sqlite/connection';
import { resolveDatabaseOptions } from '../src/core/options';
import { FakeClock, integrity, tempDb, tempDir, thrown, withRaw } from './helpers';

describe('opening', () => {
  it('uses the kv-cache default table name and persists across reopening', () => {
    const path = tempDb();
    const first = new KVStore(path);
    expect(first.name).toBe('key_value_store');
    first.set('user:1', { name: 'Alice', age: 30 });
    first.set('session', 'x', 3600);
    first.close();
    const again = new KVStore(path, 'key_value_store');
    expect(again.get('user:1')).toEqual({ name: 'Alice', age: 30 });
    expect(again.ttl('session')).toBeGreaterThan(3590);
    again.close();
    expect(integrity(path)).toBe('ok');
  });

  it('creates parent folders', () => {
    const path = join(tempDir(), 'a', 'b', 'c', 'cache.db');
    new KVStore(path).close();
    expect(existsSync(path)).toBe(true);
  });

  it('expands ~ to the home folder', () => {
    const name = `.drizzle-kv-test-${process.pid}-${Date.now()}`;
    const store = new KVStore(`~/${name}/cache.db`);
    store.close();
    const path = join(homedir(), name, 'cache.db');
    try {
      expect(existsSync(path)).toBe(true);
    } finally {
      require('node:fs').rmSync(join(homedir(), name), { recursive: true, force: true });
    }
  });

  it('puts the file in WAL mode', () => {
    const path = tempDb();
    const store = new KVStore(path);
    withRaw(path, (db) => expect(db.pragma('journal_mode', { simple: true })).toBe('wal'));
    store.close();
  });

  it.each([
    [undefined, 1],
    ['normal', 1],
    ['full', 2],
  ] as const)('sets synchronous on every connection for durability %p', (durability, expected) => {
    const conn = openConnection(tempDb(), resolveDatabaseOptions(durability ? { durability } : {}));
    expect(conn.client.pragma('synchronous', { simple: true })).toBe(expected);
    conn.close();
    expect(thrown(() => new KVDatabase(':memory:', { durability: 'fast' as never })).code).toBe('ERR_KV_INVALID_OPTION');
  });

  it('keeps two stores of one file independent', () => {
    const path = tempDb();
    using a = new KVStore(path, 'a');
    using b = new KVStore(path, { table: 'b' });
    a.set('k', 'from a');
    b.set('k', 'from b');
    a.clear();
    expect(a.get('k')).toBeUndefined();
    expect(b.get('k')).toBe('from b');
    expect(b.keys()).toEqual(['k']);
  });

  it('closes at the end of a using block', () => {
    let outer: KVStore | undefined;
    {
      using store = new KVStore(':memory:');
      outer = store;
      store.set('k', 1);
    }
    expect(outer.closed).toBe(true);
  });
});

describe('validation before the file is touched', () => {
  it.each(['x; DROP TABLE y', 'a"b', 'a`b', '[a]', "a'b", '1abc', 'sqlite_master', 'SQLITE_x', 'drizzle_kv_stores', 'ключ', '', 'a'.repeat(129)])(
    'refuses the store name %p and creates nothing',
    (name) => {
      const dir = tempDir();
      const path = join(dir, 'cache.db');
      const err = thrown(() => new KVStore(path, name));
      expect(err.code).toBe('ERR_KV_INVALID_NAME');
      expect(isKVError(err)).toBe(true);
      expect(existsSync(path)).toBe(false);
    },
  );

  it('refuses a name that is not a string', () => {
    const err = thrown(() => new KVStore(':memory:', { table: 5 as unknown as string }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_KV_INVALID_NAME');
  });

  it('names a misspelled option', () => {
    const err = thrown(() => new KVStore(':memory:', { tabel: 'x' } as never));
    expect(err.code).toBe('ERR_KV_INVALID_OPTION');
    expect(err.message).toContain('"tabel"');
  });

  it.each([
    [{ timeout: -1 }, RangeError],
    [{ timeout: '5' }, TypeError],
    [{ readonly: 'yes' }, TypeError],
    [{ clock: {} }, TypeError],
    [{ defaultTtl: 0 }, RangeError],
    [{ serializer: 'yaml' }, TypeError],
    [{ serializer: { name: 'json', serialize: String, deserialize: String } }, RangeError],
  ])('refuses the options %p', (options, kind) => {
    const dir = tempDir();
    const err = thrown(() => new KVStore(join(dir, 'x.db'), options as never));
    expect(err).toBeInstanceOf(kind);
    expect(err.code).toBe('ERR_KV_INVALID_OPTION');
    expect(existsSync(join(dir, 'x.db'))).toBe(false);
  });

  it('refuses an empty path', () => {
    expect(thrown(() => new KVStore('')).code).toBe('ERR_KV_INVALID_ARGUMENT');
  });

  it('refuses a name differing only in case from an existing store', () => {
    const path = tempDb();
    new KVStore(path, 'Users').close();
    const err = thrown(() => new KVStore(path, 'users'));
    expect(err.code).toBe('ERR_KV_INVALID_NAME');
    expect(err.message).toContain('"Users"');
  });
});

describe('values', () => {
  let store: KVStore;
  beforeEach(() => {
    store = new KVStore(tempDb());
  });
  afterEach(() => store.close());

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', 10n],
    ['a Map', new Map([[1, 2]])],
    ['a Set', new Set([1])],
    ['a class instance', new (class Point { x = 1 })()],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['a nested function', { a: { b: [1, () => 2] } }],
    ['a nested BigInt', [1n]],
    ['undefined in an array', [1, undefined]],
    ['an array hole', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['a nested Map', { m: new Map() }],
  ])('refuses %s before writing anything', (_what, value) => {
    store.set('k', 'before');
    const err = thrown(() => store.set('k', value));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_KV_INVALID_VALUE');
    expect(store.get('k')).toBe('before');
  });

  it('refuses a circular value', () => {
    const value: Record<string, unknown> = { a: 1 };
    value['self'] = value;
    const err = thrown(() => store.set('k', value));
    expect(err.code).toBe('ERR_KV_INVALID_VALUE');
    expect(err.message).toContain('circular');
    expect(store.has('k')).toBe(false);
  });

  it('accepts shared (non-circular) references, null-prototype objects and toJSON', () => {
    const shared = { x: 1 };
    store.set('shared', { a: shared, b: shared });
    expect(store.get('shared')).toEqual({ a: { x: 1 }, b: { x: 1 } });
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    store.set('bare', bare);
    expect(store.get('bare')).toEqual({ a: 1 });
    store.set('date', new Date(0));
    expect(store.get('date')).toBe('1970-01-01T00:00:00.000Z');
  });

  it('stores undefined as a value, distinct from a miss', () => {
    store.set('u', undefined);
    expect(store.has('u')).toBe(true);
    expect(store.get('u', 'default')).toBeUndefined();
    expect(store.items()).toEqual([['u', undefined]]);
  });

  it('does not pollute prototypes when reading a __proto__ key', () => {
    store.set('p', JSON.parse('{"__proto__": {"polluted": true}}'));
    const value = store.get('p') as Record<string, unknown>;
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
  });

  it('stores JSON text that any SQLite client can read', () => {
    const path = tempDb();
    const s = new KVStore(path);
    s.set('k', { a: [1, 'two'] });
    s.close();
    expect(withRaw(path, (db) => db.prepare('SELECT value FROM key_value_store').pluck().get())).toBe('{"a":[1,"two"]}');
  });
});

describe('serializers', () => {
  it("'v8' keeps Dates, Maps, Sets, BigInts, Buffers, NaN and -0", () => {
    using store = new KVStore(tempDb(), { serializer: 'v8' });
    const value = {
      when: new Date(1234),
      map: new Map([['a', 1]]),
      set: new Set([1, 2]),
      big: 2n ** 70n,
      bytes: new Uint8Array([1, 2, 3]),
      nan: NaN,
      negZero: -0,
      nothing: undefined,
    };
    store.set('k', value);
    expect(store.get('k')).toEqual(value);
    expect(Object.is((store.get('k') as typeof value).negZero, -0)).toBe(true);
    expect(thrown(() => store.set('f', () => 1)).code).toBe('ERR_KV_INVALID_VALUE');
  });

  it('records the serializer, and refuses to open a store with another one', () => {
    const path = tempDb();
    new KVStore(path, { serializer: 'v8' }).close();
    const err = thrown(() => new KVStore(path));
    expect(err.code).toBe('ERR_KV_SERIALIZER_MISMATCH');
    expect(err.message).toContain('"v8"');
    new KVStore(path, { serializer: 'v8' }).close();
  });

  it('accepts a custom serializer and wraps its failures', () => {
    const upper: Serializer = {
      name: 'upper-json',
      serialize: (v) => {
        if (v === 'bad') throw new Error('no bad values');
        return JSON.stringify(v).toUpperCase();
      },
      deserialize: (d) => JSON.parse(String(d)),
    };
    const path = tempDb();
    using store = new KVStore(path, { serializer: upper });
    store.set('k', 'abc');
    expect(store.get('k')).toBe('ABC');
    const err = thrown(() => store.set('x', 'bad'));
    expect(err.code).toBe('ERR_KV_INVALID_VALUE');
    expect((err.cause as Error).message).toBe('no bad values');
    withRaw(path, (db) => db.prepare("UPDATE key_value_store SET value = 'not json' WHERE key = 'k'").run());
    expect(thrown(() => store.get('k')).code).toBe('ERR_KV_DESERIALIZE');
  });
});

describe('row metadata (format 2)', () => {
  it('records when each value was written and how many bytes it takes; reads and touch change neither', () => {
    const path = tempDb();
    const clock = new FakeClock(1_000_000);
    using store = new KVStore(path, { clock });
    const row = (key: string) =>
      withRaw(path, (db) => db.prepare('SELECT updated_at, size FROM key_value_store WHERE key = ?').get(key)) as { updated_at: number; size: number };
    store.set('ключ', 'café');
    expect(row('ключ')).toEqual({ updated_at: 1_000_000, size: Buffer.byteLength('ключ') + Buffer.byteLength('"café"') });
    clock.advance(5);
    store.get('ключ');
    store.touch('ключ', 60);
    expect(row('ключ').updated_at).toBe(1_000_000);
    store.incr('n');
    store.add('a', [1, 2]);
    store.setMany({ m: true });
    expect([row('n'), row('a'), row('m')]).toEqual([
      { updated_at: 1_005_000, size: 2 },
      { updated_at: 1_005_000, size: 6 },
      { updated_at: 1_005_000, size: 5 },
    ]);
  });
});

describe('cleanup of expired rows', () => {
  it('removes expired rows as writes happen, without being asked', () => {
    const path = tempDb();
    const clock = new FakeClock();
    using store = new KVStore(path, { clock });
    store.setMany(Array.from({ length: 100 }, (_, i) => [`old${i}`, i] as const), 1);
    clock.advance(2);
    for (let i = 0; i < 200; i++) store.set(`new${i}`, i);
    const rows = withRaw(path, (db) => db.prepare('SELECT count(*) FROM key_value_store').pluck().get());
    expect(rows).toBe(200);
  });

  /** The query plan SQLite chooses for the repository's own cull statement (with and without the format guard). */
  function cullPlan(guarded: boolean): string {
    const path = tempDb();
    new KVStore(path).close();
    const conn = openConnection(path, { timeout: 1000, readonly: false, durability: 'normal', mmapSize: 0 });
    try {
      const guard = { version: STORE_FORMAT_VERSION, serializer: 'json', stale: () => new Error('stale') };
      const repo = new KVRepository(conn, 'key_value_store', guarded ? guard : undefined);
      return conn.client
        .prepare(`EXPLAIN QUERY PLAN ${repo.sqlOf('cull')}`)
        .all(Date.now(), 10)
        .map((r) => (r as { detail: string }).detail)
        .join('\n');
    } finally {
      conn.close();
    }
  }

  it.each([true, false])('culls through the partial expiry index, never a scan of the table (guarded: %p)', (guarded) => {
    const plan = cullPlan(guarded);
    expect(plan).toContain('USING INDEX key_value_store_expires_at_idx');
    expect(plan).not.toMatch(/SCAN key_value_store(?! USING)/);
  });
});

describe('files that are not stores', () => {
  it('refuses a file that is not SQLite and leaves it untouched', () => {
    const path = tempDb('notes.txt');
    writeFileSync(path, 'just some text, certainly not a database '.repeat(100));
    const before = readFileSync(path);
    const err = thrown(() => new KVStore(path));
    expect(err.code).toBe('ERR_KV_NOT_A_DATABASE');
    expect(err.cause).toBeDefined();
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('refuses a path that is a directory', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'db'));
    expect(thrown(() => new KVStore(join(dir, 'db'))).code).toBe('ERR_KV_CANT_OPEN');
  });

  it('refuses a table of the same name that is not a store, and leaves its data', () => {
    const path = tempDb();
    withRaw(path, (db) => {
      db.exec('CREATE TABLE sessions (id INTEGER PRIMARY KEY, data TEXT)');
      db.prepare("INSERT INTO sessions (data) VALUES ('keep me')").run();
    });
    const err = thrown(() => new KVStore(path, 'sessions'));
    expect(err.code).toBe('ERR_KV_FOREIGN_TABLE');
    expect(withRaw(path, (db) => db.prepare('SELECT data FROM sessions').pluck().all())).toEqual(['keep me']);
  });
});

describe('read-only', () => {
  it('reads a store another connection writes, and refuses writes', () => {
    const path = tempDb();
    using writer = new KVStore(path);
    writer.set('k', 1);
    using reader = new KVStore(path, { readonly: true });
    expect(reader.get('k')).toBe(1);
    writer.set('k', 2);
    expect(reader.get('k')).toBe(2);
    const err = thrown(() => reader.set('k', 3));
    expect(err.code).toBe('ERR_KV_READONLY');
    expect(writer.get('k')).toBe(2);
  });

  it('neither creates a file nor a store', () => {
    const dir = tempDir();
    expect(thrown(() => new KVStore(join(dir, 'none.db'), { readonly: true })).code).toBe('ERR_KV_CANT_OPEN');
    expect(existsSync(join(dir, 'none.db'))).toBe(false);
    const path = join(dir, 'some.db');
    new KVStore(path, 'a').close();
    expect(thrown(() => new KVStore(path, { table: 'b', readonly: true })).code).toBe('ERR_KV_NO_SUCH_STORE');
  });
});

describe('edges of the API', () => {
  it('refuses setMany input that is not pairs or a record, writing nothing', () => {
    using store = new KVStore(':memory:');
    for (const bad of ['abc', null, 42, [1, 2], [['ok', 1], 'x']]) {
      const err = thrown(() => store.setMany(bad as never));
      expect([String(bad), err.code]).toEqual([String(bad), 'ERR_KV_INVALID_ARGUMENT']);
    }
    expect(store.size).toBe(0);
  });

  it('refuses what a custom serializer returns when it is neither text nor bytes', () => {
    for (const out of [{ a: 1 }, 42]) {
      using store = new KVStore(':memory:', { serializer: { name: 'odd', serialize: () => out as never, deserialize: String } });
      const err = thrown(() => store.set('k', 1));
      expect([err.code, store.size]).toEqual(['ERR_KV_INVALID_VALUE', 0]);
    }
  });

  it('accepts a clock with fractions of a millisecond', () => {
    let now = 1_000_000.75;
    using store = new KVStore(':memory:', { clock: { now: () => now } });
    store.set('k', 1, 60);
    expect(store.ttl('k')).toBe(60);
    now += 60_000;
    expect(store.has('k')).toBe(false);
  });

  it('applies defaultTtl to touch without a TTL, and to counters it creates', () => {
    const clock = new FakeClock();
    using store = new KVStore(':memory:', { clock, defaultTtl: 60 });
    store.set('k', 1, 10);
    expect(store.touch('k')).toBe(true);
    expect(store.ttl('k')).toBe(60);
    expect(store.incr('n')).toBe(1);
    expect(store.ttl('n')).toBe(60);
    clock.advance(30);
    expect(store.incr('n')).toBe(2);
    expect(store.ttl('n')).toBe(30); // an existing counter keeps its expiry
  });

  it('names the operation that was called in its errors', () => {
    using store = new KVStore(':memory:');
    expect(thrown(() => store.values(5 as never)).message).toMatch(/^values:/);
    expect(thrown(() => store.decr('n', NaN)).message).toMatch(/^decr:/);
  });

  it('passes errors thrown inside transaction() through unchanged, driver errors included', () => {
    const path = tempDb();
    withRaw(path, (db) => db.exec('CREATE TABLE app (id INTEGER PRIMARY KEY)'));
    const client = new Database(path);
    client.pragma('journal_mode = WAL'); // the settings drizzle-kv recommends for a shared connection, so it has nothing to warn about
    using db = new KVDatabase(client);
    const store = db.store('kv');
    const own = new Error('mine');
    expect(thrown(() => store.transaction(() => { throw own; }))).toBe(own);
    const insert = client.prepare('INSERT INTO app (id) VALUES (1)');
    for (const transaction of [(fn: () => void) => store.transaction(fn), (fn: () => void) => db.transaction(fn)]) {
      const err = thrown(() =>
        transaction(() => {
          store.set('inside', 1);
          insert.run();
          insert.run(); // the app's own UNIQUE violation
        }),
      );
      expect([err.code, isKVError(err)]).toEqual(['SQLITE_CONSTRAINT_PRIMARYKEY', false]);
      expect(store.has('inside')).toBe(false);
    }
    db.close();
    client.close();
  });
});
