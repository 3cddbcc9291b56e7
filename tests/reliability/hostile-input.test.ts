// Hostile and extreme inputs: each either works exactly, or fails with a
// typed error and a stable code and changes nothing. What tests/kvstore.test.ts
// and tests/contract/store-contract.ts already cover (the empty key, NFC vs
// NFD keys, lone surrogates, non-string keys on set/get, ttl 0/-1/NaN/'10',
// SQL-injection names, names up to 129 characters, files that are not SQLite,
// directories, foreign tables, use after close) is not repeated here.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KVDatabase, KVError, KVStore } from '../../src';
import { childRuntime } from '../child-runtime';
import { FakeClock, integrity, tempDb, tempDir, thrown, withRaw } from '../helpers';

function rowCount(path: string, table = 'key_value_store'): number {
  return withRaw(path, (db) => db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number);
}

describe('keys', () => {
  let store: KVStore;
  let path: string;
  beforeEach(() => {
    path = tempDb();
    store = new KVStore(path);
  });
  afterEach(() => store.close());

  it('stores keys with NUL and every control character exactly, apart from their neighbours', () => {
    const keys = ['\u0000', 'a', 'a\u0000', 'a\u0000b', 'a\u0001', '\t\n\r\u001b[31m', '\u007f', 'a\u0000\u0000', 'é\u0000é'];
    for (const key of [...keys, ...Array.from({ length: 32 }, (_, i) => `c${String.fromCharCode(i)}`)]) store.set(key, key);
    for (const key of keys) expect(store.get(key)).toBe(key);
    expect(store.size).toBe(keys.length + 32);
    // Listing, prefix ranges and batched iteration (which resumes at key + "\0") see each key once.
    expect(store.keys({ prefix: 'a' })).toEqual(['a', 'a\u0000', 'a\u0000\u0000', 'a\u0000b', 'a\u0001']);
    expect(store.keys({ prefix: 'a\u0000' })).toEqual(['a\u0000', 'a\u0000\u0000', 'a\u0000b']);
    expect([...store.entries({ batchSize: 1 })].map(([k]) => k)).toEqual(store.keys());
    expect(store.delete('a\u0000')).toBe(true);
    expect(store.get('a')).toBe('a');
    expect(store.clear({ prefix: 'a\u0000' })).toBe(2);
    expect(store.keys({ prefix: 'a' })).toEqual(['a', 'a\u0001']);
    // What SQLite holds is the same bytes.
    expect(withRaw(path, (db) => db.prepare('SELECT count(*) FROM key_value_store WHERE key = ?').pluck().get('é\u0000é'))).toBe(1);
  });

  it('stores a 1 MB key, and lists, counts and deletes it', () => {
    const key = 'k'.repeat(512 * 1024) + 'é'.repeat(256 * 1024); // 1 MiB of UTF-8 (768 Ki characters)
    store.set(key, 1);
    store.set(`${key}!`, 2);
    expect(store.get(key)).toBe(1);
    expect(store.keys()).toEqual([key, `${key}!`]);
    expect(store.incr(key)).toBe(2);
    expect(store.getMany([key]).get(key)).toBe(2);
    expect(store.delete(key)).toBe(true);
    expect(store.keys()).toEqual([`${key}!`]);
  });

  it('finds keys by a 100,000-character prefix', () => {
    const prefix = 'p'.repeat(100_000);
    store.set(`${prefix}1`, 1);
    store.set('p', 0);
    expect(store.keys({ prefix })).toEqual([`${prefix}1`]);
  });

  // A prefix's upper bound is computed without spreading its code points (which overflowed the stack
  // past ~125,000 of them).
  it('finds keys by a 1 MB prefix', () => {
    const prefix = 'k'.repeat(512 * 1024) + 'é'.repeat(256 * 1024);
    store.set(`${prefix}!`, 1);
    expect(store.keys({ prefix })).toEqual([`${prefix}!`]);
    expect(store.clear({ prefix })).toBe(1);
  });

  it.each([
    ['a number', 1],
    ['null', null],
    ['undefined', undefined],
    ['a symbol', Symbol('k')],
    ['a String object', new String('k')],
    ['an array', ['k']],
    ['an object with toString', { toString: () => 'k' }],
    ['a Buffer', Buffer.from('k')],
  ])('refuses %s as a key with a TypeError in every method, writing nothing', (_what, bad) => {
    const key = bad as unknown as string;
    const calls: Record<string, () => unknown> = {
      get: () => store.get(key),
      set: () => store.set(key, 1),
      add: () => store.add(key, 1),
      has: () => store.has(key),
      delete: () => store.delete(key),
      pop: () => store.pop(key),
      touch: () => store.touch(key, 1),
      ttl: () => store.ttl(key),
      incr: () => store.incr(key),
      getMany: () => store.getMany(['ok', key]),
      setMany: () => store.setMany([['ok', 1], [key, 2]]),
    };
    // (`{ prefix: undefined }` means no prefix, as an absent option does: not an error.)
    if (key !== undefined) {
      calls['keys (prefix)'] = () => store.keys({ prefix: key });
      calls['clear (prefix)'] = () => store.clear({ prefix: key });
    }
    for (const [name, call] of Object.entries(calls)) {
      const err = thrown(call);
      expect([name, err instanceof TypeError, err.code]).toEqual([name, true, 'ERR_KV_INVALID_KEY']);
    }
    expect(rowCount(path)).toBe(0);
  });
});

describe('values', () => {
  it('round-trips a 64 MB string value', () => {
    const path = tempDb();
    using store = new KVStore(path);
    let chunk = '';
    for (let i = 0; i < 1024; i++) chunk += String.fromCharCode(32 + ((i * 7) % 95)); // one-byte characters: 64 MB in memory, not 128
    const value = `${chunk.repeat(64 * 1024)}END`;
    store.set('big', value);
    expect(store.get('big') === value).toBe(true); // (not toBe: a failure would print 64 MB)
    expect((store.get('big') as string).length).toBe(64 * 1024 * 1024 + 3);
    store.set('big', 'small'); // replaced in place
    expect(store.get('big')).toBe('small');
    expect(integrity(path)).toBe('ok');
  });

  it('refuses a JSON value nested deeper than JSON itself can write (5000 levels) with ERR_KV_INVALID_VALUE, writing nothing', () => {
    using store = new KVStore(tempDb());
    const nest = (depth: number) => {
      let v: unknown = 0;
      for (let i = 0; i < depth; i++) v = { a: v };
      return v;
    };
    store.set('k', 'before');
    store.set('ok', nest(1000)); // a deep but reasonable value works
    expect(JSON.stringify(store.get('ok'))).toBe(JSON.stringify(nest(1000)));
    const err = thrown(() => store.set('k', nest(5000)));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_KV_INVALID_VALUE');
    expect(err.cause).toBeInstanceOf(RangeError); // the stack overflow, kept as cause
    expect(store.get('k')).toBe('before');
    expect(thrown(() => store.setMany({ a: 1, k: nest(5000) })).code).toBe('ERR_KV_INVALID_VALUE');
    expect(store.has('a')).toBe(false);
  });

  /**
   * The deepest `{ a: … }` nesting `set` accepts (binary search). The last
   * successful probe is the deepest, so that is the value left under 'deep'.
   */
  function deepestAccepted(store: KVStore): number {
    let lo = 1;
    let hi = 20_000;
    store.set('deep', { a: 0 });
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      let v: unknown = 0;
      for (let i = 0; i < mid; i++) v = { a: v };
      try {
        store.set('deep', v);
        lo = mid;
      } catch {
        hi = mid - 1;
      }
    }
    return lo;
  }

  const depthOf = (v: unknown): number => {
    let depth = 0;
    for (let x = v; typeof x === 'object' && x !== null; x = (x as { a: unknown }).a) depth++;
    return depth;
  };

  it('json: the deepest value set() accepts reads back', () => {
    using store = new KVStore(tempDb());
    const depth = deepestAccepted(store);
    expect(depth).toBeGreaterThan(1000);
    expect(depthOf(store.get('deep'))).toBe(depth);
  });

  // node:v8's deserializer needs more stack per level than its serializer: values about 2000 to 3100
  // levels deep (Node 20) can be written but not read. The 'v8' serializer refuses those.
  it('v8: the deepest value set() accepts reads back', () => {
    using store = new KVStore(tempDb(), { serializer: 'v8' });
    const depth = deepestAccepted(store);
    expect(depth).toBeGreaterThan(1000);
    expect(depthOf(store.get('deep'))).toBe(depth);
  });

  // JSON.stringify writes integer-valued doubles up to 1e21 as plain digits; the Python-dialect
  // reader must give those back as numbers (only literals a double would round become BigInt).
  it('json reads numbers beyond 2^53 back as numbers', () => {
    using store = new KVStore(tempDb());
    for (const n of [2 ** 53, 1e16, -(2 ** 60), 1.5e20]) {
      store.set('n', { n });
      expect(store.get('n')).toEqual({ n });
    }
    store.set('c', 2 ** 53 - 2);
    expect(store.incr('c')).toBe(Number.MAX_SAFE_INTEGER);
    // One more would not be exact: a counter refuses to lose precision, and keeps its value.
    const err = thrown(() => store.incr('c'));
    expect([err instanceof RangeError, err.code]).toEqual([true, 'ERR_KV_INVALID_ARGUMENT']);
    expect(store.get('c')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('json stores -0 as 0, everywhere in a value; v8 keeps -0', () => {
    const path = tempDb();
    using json = new KVStore(path, 'j');
    json.set('z', { a: -0, b: [-0] });
    const back = json.get('z') as { a: number; b: number[] };
    expect(Object.is(back.a, 0)).toBe(true);
    expect(Object.is(back.b[0], 0)).toBe(true);
    using v8 = new KVStore(path, { table: 'v', serializer: 'v8' });
    v8.set('z', { a: -0 });
    expect(Object.is((v8.get('z') as { a: number }).a, -0)).toBe(true);
  });

  it('json refuses a sparse array anywhere in a value; v8 keeps the hole', () => {
    const path = tempDb();
    using json = new KVStore(path, 'j');
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const err = thrown(() => json.set('s', { deep: [sparse] }));
    expect(err.code).toBe('ERR_KV_INVALID_VALUE');
    expect(err.message).toContain('value.deep[0][1]');
    expect(thrown(() => json.set('s', new Array(3))).code).toBe('ERR_KV_INVALID_VALUE');
    expect(json.has('s')).toBe(false);
    using v8 = new KVStore(path, { table: 'v', serializer: 'v8' });
    v8.set('s', sparse);
    const back = v8.get('s') as unknown[];
    expect(back).toHaveLength(3);
    expect(1 in back).toBe(false);
  });

  it('json stores what toJSON returns, checks it, and reports a throwing toJSON', () => {
    using store = new KVStore(tempDb());
    store.set('k', 'before');
    store.set('ok', { when: { toJSON: () => ({ iso: 'x' }) } });
    expect(store.get('ok')).toEqual({ when: { iso: 'x' } });
    const bad = thrown(() => store.set('k', { x: { toJSON: () => new Map([[1, 2]]) } }));
    expect(bad.code).toBe('ERR_KV_INVALID_VALUE');
    const boom = new Error('boom');
    const throwing = thrown(() =>
      store.set('k', {
        toJSON() {
          throw boom;
        },
      }),
    );
    expect(throwing).toBeInstanceOf(TypeError);
    expect(throwing.code).toBe('ERR_KV_INVALID_VALUE');
    expect(throwing.cause).toBe(boom);
    expect(store.get('k')).toBe('before');
  });

  // The JSON check calls toJSON(key) with the key JSON.stringify passes, so a key-dependent toJSON is
  // checked on what will be written.
  it('json refuses a value whose toJSON(key) returns something JSON would change', () => {
    using store = new KVStore(tempDb());
    store.set('k', 'before');
    const sneaky = { toJSON: (key?: string) => (key === undefined ? 1 : new Map([[1, 2]])) };
    expect(thrown(() => store.set('k', { x: sneaky })).code).toBe('ERR_KV_INVALID_VALUE');
    expect(store.get('k')).toBe('before');
  });

  it('handles __proto__ and constructor as keys and as own properties of values, polluting nothing', () => {
    const path = tempDb();
    using store = new KVStore(path);
    store.set('__proto__', 1);
    store.setMany(Object.fromEntries([['__proto__', 2], ['constructor', 3]]));
    expect(store.get('__proto__')).toBe(2);
    expect(store.get('constructor')).toBe(3);
    expect(store.getMany(['__proto__', 'constructor', 'toString'])).toEqual(
      new Map([
        ['__proto__', 2],
        ['constructor', 3],
      ]),
    );
    expect(store.get('toString')).toBeUndefined();
    using v8 = new KVStore(path, { table: 'v', serializer: 'v8' });
    v8.set('p', JSON.parse('{"__proto__": {"polluted": true}, "x": 1}'));
    const back = v8.get('p') as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['__proto__', 'x']);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ polluted: true }); // an own property…
    expect(back['polluted']).toBeUndefined(); // …not the prototype
    // (node:v8 builds objects in Node's own realm, not jest's: compare the prototype's shape, not its identity.)
    expect(Object.getPrototypeOf(Object.getPrototypeOf(back))).toBeNull();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('TTLs', () => {
  it('accepts 1e12 seconds (within safe-integer milliseconds), the smallest positive double, and fractions', () => {
    const clock = new FakeClock();
    using store = new KVStore(tempDb(), { clock });
    store.set('far', 1, 1e12);
    expect(store.ttl('far')).toBe(1e12);
    store.set('tiny', 1, Number.MIN_VALUE); // rounded up to 1 ms: a positive TTL never means "already expired"
    expect(store.ttl('tiny')).toBe(0.001);
    clock.advance(0.001);
    expect(store.has('tiny')).toBe(false);
    store.set('frac', 1, 1.0005);
    expect(store.ttl('frac')).toBe(1.001);
  });

  it.each([
    ['0', 0, RangeError],
    ['-0', -0, RangeError],
    ['-1', -1, RangeError],
    ['NaN', NaN, RangeError],
    ['-Infinity', -Infinity, RangeError],
    ['1e13 (beyond safe-integer ms)', 1e13, RangeError],
    ['Number.MAX_VALUE', Number.MAX_VALUE, RangeError],
    ["'60'", '60', TypeError],
    ['60n', 60n, TypeError],
    ['an object', { valueOf: () => 60 }, TypeError],
    ['true', true, TypeError],
  ])('refuses ttl %s in set, add, setMany and touch alike, changing nothing', (_what, ttl, kind) => {
    const clock = new FakeClock();
    const path = tempDb();
    using store = new KVStore(path, { clock });
    store.set('k', 'before', 60);
    const bad = ttl as number;
    for (const [name, call] of Object.entries({
      set: () => store.set('k', 'after', bad),
      'set (new key)': () => store.set('new', 1, bad),
      add: () => store.add('new', 1, bad),
      setMany: () => store.setMany({ k: 'after', new: 1 }, bad),
      touch: () => store.touch('k', bad),
    })) {
      const err = thrown(call);
      expect([name, err instanceof kind, err.code]).toEqual([name, true, 'ERR_KV_INVALID_TTL']);
    }
    expect(store.items()).toEqual([['k', 'before']]);
    expect(store.ttl('k')).toBe(60);
  });

  it.each([0, -1, NaN, -Infinity, '60'])('refuses defaultTtl %p before the file is opened', (ttl) => {
    const path = join(tempDir(), 'x.db');
    expect(thrown(() => new KVStore(path, { defaultTtl: ttl as number })).code).toBe('ERR_KV_INVALID_OPTION');
    expect(existsSync(path)).toBe(false);
  });

  // defaultTtl is held to the bounds every write's TTL is, at open.
  it('refuses a defaultTtl too large for any write (1e13 s) before the file is opened', () => {
    const path = join(tempDir(), 'x.db');
    expect(thrown(() => new KVStore(path, { defaultTtl: 1e13 })).code).toBe('ERR_KV_INVALID_OPTION');
    expect(existsSync(path)).toBe(false);
  });
});

describe('store names', () => {
  it.each([
    ['1000 characters', 'a'.repeat(1000)],
    ['a NUL', 'a\u0000b'],
    ['a trailing space', 'users '],
    ['a newline', 'users\n'],
    ['a dot', 'main.users'],
    ['a quoted injection', 'x"; DROP TABLE "drizzle_kv_stores'],
    ['a comment', 'x--'],
    ['sqlite_master in another case', 'SQLite_Master'],
    ['the bookkeeping table', 'DRIZZLE_KV_META'],
    ['unicode letters', 'naïve'],
    ['a fullwidth letter', 'ｕsers'],
  ])('refuses a name with %s through every door, creating and dropping nothing', (_what, name) => {
    const path = tempDb();
    using db = new KVDatabase(path);
    db.store('users').set('k', 1);
    const before = readFileSync(path);
    for (const [door, open] of Object.entries({
      'new KVStore': () => new KVStore(path, name),
      'new KVStore (options)': () => new KVStore(path, { table: name }),
      'db.store': () => db.store(name),
      'db.drop': () => db.drop(name),
    })) {
      const err = thrown(open);
      expect([door, err.code]).toEqual([door, 'ERR_KV_INVALID_NAME']);
    }
    expect(db.stores().map((s) => s.name)).toEqual(['users']);
    expect(db.store('users').get('k')).toBe(1);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('refuses, through KVDatabase too, a second store whose name differs only in case, and lists one store', () => {
    const path = tempDb();
    using db = new KVDatabase(path);
    db.store('Users').set('k', 1);
    expect(thrown(() => db.store('users')).code).toBe('ERR_KV_INVALID_NAME');
    expect(thrown(() => db.store('USERS')).code).toBe('ERR_KV_INVALID_NAME');
    expect(db.drop('users')).toBe(false); // drop does not match another case either
    expect(db.stores().map((s) => s.name)).toEqual(['Users']);
    expect(db.store('Users').get('k')).toBe(1);
  });
});

describe('files', () => {
  it('refuses a path below a regular file with ERR_KV_CANT_OPEN', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    const err = thrown(() => new KVStore(join(dir, 'file', 'cache.db')));
    expect(err.code).toBe('ERR_KV_CANT_OPEN');
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('x');
  });

  (process.platform === 'linux' ? it : it.skip)('refuses a folder nobody may create files in (/proc) with ERR_KV_CANT_OPEN, even as root', () => {
    const err = thrown(() => new KVStore(`/proc/drizzle-kv-${process.pid}.db`));
    expect(err.code).toBe('ERR_KV_CANT_OPEN');
  });


  /**
   * Runs `code` (CommonJS, with `KVStore` from the built package in scope) as
   * an unprivileged user: as uid/gid 65534 (nobody) when the tests run as root,
   * whose writes file permissions do not stop; as the current user otherwise.
   * Returns what it prints, parsed as JSON.
   */
  function unprivileged(code: string): Record<string, unknown> {
    const asRoot = process.getuid?.() === 0;
    const runtime = childRuntime();
    const script = `const { KVStore } = require(${JSON.stringify(join(runtime, 'index.cjs'))}); const r = {}; ${code}; console.log(JSON.stringify(r));`;
    // (Run from the copy's folder: the repository's may not be one the child can enter.)
    const result = spawnSync(process.execPath, ['-e', script], { cwd: runtime, encoding: 'utf8', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }
  const attempt = (label: string, body: string) => `try { ${body}; r[${JSON.stringify(label)}] = r[${JSON.stringify(label)}] ?? 'ok'; } catch (e) { r[${JSON.stringify(label)}] = e.code; }`;

  (process.platform === 'win32' ? it.skip : it)('without write permission: refuses to create, opens existing stores for reading, refuses writes', () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    const existing = join(locked, 'existing.db');
    const s = new KVStore(existing, 'kv');
    s.set('k', 1);
    s.close();
    const readOnlyFile = join(dir, 'file.db');
    const t = new KVStore(readOnlyFile, 'kv');
    t.set('k', 1);
    t.close();
    chmodSync(readOnlyFile, 0o444);
    chmodSync(dir, 0o777); // the folder of file.db is writable (for its -wal and -shm)…
    chmodSync(locked, 0o555); // …the folder `locked` is not
    const before = readFileSync(existing);
    try {
      const r = unprivileged(`
        ${attempt('create in locked folder', `new KVStore(${JSON.stringify(join(locked, 'new.db'))})`)}
        ${attempt('read-only open in locked folder', `r.readOnlyValue = new KVStore(${JSON.stringify(existing)}, { table: 'kv', readonly: true }).get('k')`)}
        ${attempt('writable open of a 444 file', `const s = new KVStore(${JSON.stringify(readOnlyFile)}, 'kv'); r.value = s.get('k'); try { s.set('k', 2); } catch (e) { r.write = e.code; } s.close()`)}
        ${attempt('read-only open of a 444 file', `const s = new KVStore(${JSON.stringify(readOnlyFile)}, { table: 'kv', readonly: true }); r.roValue = s.get('k'); try { s.incr('n'); } catch (e) { r.roWrite = e.code; } s.close()`)}
        ${attempt('new store in a 444 file', `new KVStore(${JSON.stringify(readOnlyFile)}, 'other')`)}
      `);
      expect(r).toEqual({
        'create in locked folder': 'ERR_KV_CANT_OPEN',
        // A WAL file whose -shm cannot be created cannot be opened, even read-only: SQLite needs the -shm.
        'read-only open in locked folder': 'ERR_KV_CANT_OPEN',
        'writable open of a 444 file': 'ok',
        value: 1,
        write: 'ERR_KV_READONLY',
        'read-only open of a 444 file': 'ok',
        roValue: 1,
        roWrite: 'ERR_KV_READONLY',
        'new store in a 444 file': 'ERR_KV_READONLY',
      });
      expect(existsSync(join(locked, 'new.db'))).toBe(false);
      expect(readFileSync(existing).equals(before)).toBe(true);
    } finally {
      chmodSync(locked, 0o755);
    }
    expect(new KVStore(readOnlyFile, 'kv').get('k')).toBe(1);
  });

  it('opens a chmod 444 file with readonly: true: reads work, every write is ERR_KV_READONLY, the file is unchanged', () => {
    const path = tempDb();
    const s = new KVStore(path);
    s.setMany({ a: 1, b: 2 });
    s.close();
    chmodSync(path, 0o444);
    const before = readFileSync(path);
    using store = new KVStore(path, { readonly: true });
    expect(store.items()).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    for (const [name, write] of Object.entries({
      set: () => store.set('c', 3),
      add: () => store.add('c', 3),
      incr: () => store.incr('a'),
      setMany: () => store.setMany({ c: 3 }),
      delete: () => store.delete('a'),
      pop: () => store.pop('a'),
      touch: () => store.touch('a', 5),
      clear: () => store.clear(),
      purgeExpired: () => store.purgeExpired(),
    })) {
      const err = thrown(write);
      expect([name, err instanceof KVError, err.code]).toEqual([name, true, 'ERR_KV_READONLY']);
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  /** A closed, checkpointed store file of a few hundred pages. */
  function realFile(): string {
    const path = tempDb('real.db');
    const store = new KVStore(path);
    store.setMany(Array.from({ length: 2000 }, (_, i) => [`k${String(i).padStart(5, '0')}`, { i, pad: 'p'.repeat(300) }] as const));
    store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    return path;
  }

  /** Opens `path` and reads everything; returns the error code, or 'ok' if all of it read back intact. */
  function openAndReadAll(path: string): string {
    try {
      using store = new KVStore(path);
      const items = store.items();
      expect(items).toHaveLength(2000);
      expect(items[1999]).toEqual(['k01999', { i: 1999, pad: 'p'.repeat(300) }]);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  }

  it.each([0.9, 0.5, 0.1])('reports a file truncated to %p of its size as damaged, at open or at the first read', (fraction) => {
    const source = realFile();
    const path = tempDb('truncated.db');
    copyFileSync(source, path);
    truncateSync(path, Math.floor((statSync(path).size * fraction) / 4096) * 4096);
    expect(['ERR_KV_CORRUPT', 'ERR_KV_NOT_A_DATABASE']).toContain(openAndReadAll(path));
  });

  it.each([
    ['the header', 0, 100],
    ['a page in the middle', 0.5, 8192],
    ['the last page', 1, 4096],
    ['the schema page', 4096 * 0, 4096],
  ])('reports a file with %s overwritten as damaged, at open or at the first read', (_what, where, length) => {
    const source = realFile();
    const path = tempDb('corrupt.db');
    copyFileSync(source, path);
    const size = statSync(path).size;
    const at = where === 1 ? size - length : Math.floor((size * where) / 4096) * 4096;
    const bytes = readFileSync(path);
    bytes.fill(0xa5, at, at + length);
    writeFileSync(path, bytes);
    const code = openAndReadAll(path);
    expect(['ERR_KV_CORRUPT', 'ERR_KV_NOT_A_DATABASE']).toContain(code);
  });

  it('refuses, with ERR_KV_FOREIGN_TABLE and leaving its data, a view, an index or an unregistered look-alike table of the name', () => {
    const path = tempDb();
    withRaw(path, (db) => {
      db.exec("CREATE TABLE things (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at INTEGER); INSERT INTO things VALUES ('mine', 'x', NULL)");
      db.exec('CREATE VIEW seen AS SELECT 1 AS one');
      db.exec('CREATE TABLE other (n INTEGER); CREATE INDEX cache_expires_at_idx ON other (n)'); // the expiry index name of a store "cache"
    });
    for (const name of ['things', 'seen', 'cache', 'THINGS']) {
      const err = thrown(() => new KVStore(path, name));
      expect([name, err.code]).toEqual([name, 'ERR_KV_FOREIGN_TABLE']);
    }
    withRaw(path, (db) => {
      expect(db.prepare('SELECT key, value FROM things').all()).toEqual([{ key: 'mine', value: 'x' }]);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view', 'index') AND name NOT LIKE 'drizzle_kv_%' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all()).toEqual([
        'cache_expires_at_idx',
        'other',
        'seen',
        'things',
      ]);
    });
  });

  it('reports a full file as ERR_KV_FULL, loses nothing written, and works again once space is freed', () => {
    const path = tempDb();
    // An app's own connection (the public way to share one), so the test can set its size limit.
    const client = new Database(path, { timeout: 1000 });
    client.pragma('journal_mode = WAL');
    using store = new KVStore(client, 'kv');
    const big = 'x'.repeat(3000);
    client.pragma(`max_page_count = ${(client.pragma('page_count', { simple: true }) as number) + 40}`);
    let written = 0;
    let full: Error & { code?: string } = new Error('never full');
    for (; written < 1000; written++) {
      try {
        store.set(`k${written}`, big);
      } catch (err) {
        full = err as Error & { code?: string };
        break;
      }
    }
    expect(full).toBeInstanceOf(KVError);
    expect(full.code).toBe('ERR_KV_FULL');
    expect((full.cause as { code: string }).code).toMatch(/^SQLITE_FULL/);
    expect(written).toBeGreaterThan(10);
    // Multi-row writes fail whole.
    expect(thrown(() => store.setMany(Array.from({ length: 20 }, (_, i) => [`m${i}`, big] as const))).code).toBe('ERR_KV_FULL');
    expect(store.has('m0')).toBe(false);
    expect(thrown(() => store.transaction((s) => { s.set('t1', 1); s.set('t2', big); s.set('t3', big); })).code).toBe('ERR_KV_FULL');
    expect(store.has('t1')).toBe(false);
    // Nothing written before is lost.
    expect(store.size).toBe(written);
    for (let i = 0; i < written; i++) expect(store.get(`k${i}`) === big).toBe(true);
    // Deleting frees pages for new writes…
    for (let i = 0; i < 5; i++) store.delete(`k${i}`);
    store.set('after delete', big);
    // …and a higher limit lets bigger writes through.
    client.pragma('max_page_count = 1000000');
    store.setMany(Array.from({ length: 20 }, (_, i) => [`m${i}`, big] as const));
    expect(store.size).toBe(written - 5 + 1 + 20);
    store.close();
    client.close();
    expect(integrity(path)).toBe('ok');
  });

  it('stops an iterator of a store whose KVDatabase was closed, and keeps every closed handle closed', () => {
    const path = tempDb();
    const db = new KVDatabase(path);
    const store = db.store('s');
    store.setMany({ a: 1, b: 2, c: 3 });
    const it = store.entries({ batchSize: 1 });
    expect(it.next().value).toEqual(['a', 1]);
    db.close();
    expect(thrown(() => it.next()).code).toBe('ERR_KV_CLOSED');
    store.close(); // closing again is harmless
    expect(thrown(() => store.set('d', 4)).code).toBe('ERR_KV_CLOSED');
    expect(thrown(() => db.store('s')).code).toBe('ERR_KV_CLOSED');
    expect(thrown(() => db.transaction(() => 1)).code).toBe('ERR_KV_CLOSED');
    expect(readdirSync(join(path, '..')).filter((f) => f.endsWith('-wal'))).toEqual([]); // the file was really closed
  });
});
