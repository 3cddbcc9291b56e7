// Readers against a writer that holds the lock, and writers that cannot get
// it. The lock is held by another process (tests/children/lock-holder.cjs: a
// raw better-sqlite3 connection in BEGIN IMMEDIATE with an uncommitted write),
// so this test's event loop stays free and the locks are real POSIX locks
// between processes.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KVError, KVStore, type Serializer } from '../../src';
import { FakeClock, integrity, tempDb, thrown, withRaw } from '../helpers';

interface Holder {
  /** Whether the child has let the lock go. */
  readonly released: boolean;
  /** Asks the child to let go now; resolves once it has. */
  release(): Promise<void>;
  /** Resolves once the child has let go (by itself after holdMs, or when asked). */
  done: Promise<void>;
}

/** Starts lock-holder.cjs and resolves once it holds the lock. */
async function holdLock(path: string, table: string, holdMs: number, mode: 'commit' | 'rollback' | 'read'): Promise<Holder> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [join(__dirname, '../children/lock-holder.cjs'), path, table, String(holdMs), mode]);
  let out = '';
  let released = false;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const seen = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (out.split('\n').includes(line)) resolve();
      };
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        check();
      });
      // 'close', not 'exit': 'exit' can come before the last output has been read.
      child.on('close', (code) => {
        check();
        reject(new Error(`lock holder exited (${code}) before "${line}": ${stderr}`));
      });
    });
  const locked = seen('locked');
  const done = seen('released').then(() => {
    released = true;
  });
  await locked;
  return {
    get released() {
      return released;
    },
    release() {
      child.stdin.end('go\n');
      return done;
    },
    done,
  };
}

/** Runs `fn` and returns how long it took, in ms. */
function timed(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

describe('readers never wait for a writer', () => {
  it('answers every kind of read in < 500 ms while another process holds the write lock (for up to 2 s) with an uncommitted write', async () => {
    const path = tempDb();
    const clock = new FakeClock();
    using store = new KVStore(path, { clock });
    store.set('held', 'before');
    store.setMany(Array.from({ length: 1000 }, (_, i) => [`k:${String(i).padStart(4, '0')}`, i] as const));
    store.set('ttl', 1, 60);

    const holder = await holdLock(path, 'key_value_store', 2000, 'commit');
    // The lock really is taken: a writer that does not wait fails at once.
    using impatient = new KVStore(path, { timeout: 0 });
    expect(thrown(() => impatient.set('x', 1)).code).toBe('ERR_KV_BUSY');

    const reads: Record<string, () => unknown> = {
      get: () => expect(store.get('held')).toBe('before'), // the uncommitted write is invisible
      has: () => expect(store.has('k:0001')).toBe(true),
      getMany: () => expect(store.getMany(['k:0001', 'k:0002']).size).toBe(2),
      keys: () => expect(store.keys({ prefix: 'k:' })).toHaveLength(1000),
      items: () => expect(store.items()).toHaveLength(1002),
      entries: () => expect([...store.entries({ batchSize: 100 })]).toHaveLength(1002),
      ttl: () => expect(store.ttl('ttl')).toBe(60),
      size: () => expect(store.size).toBe(1002),
      'open another store handle': () => new KVStore(path).close(),
      'open read-only': () => new KVStore(path, { readonly: true }).close(),
    };
    const slowest: Record<string, number> = {};
    for (let round = 0; round < 20; round++) {
      for (const [name, read] of Object.entries(reads)) slowest[name] = Math.max(slowest[name] ?? 0, timed(read));
    }
    expect(holder.released).toBe(false); // all of it happened while the lock was held
    for (const [name, ms] of Object.entries(slowest)) expect([name, ms < 500]).toEqual([name, true]);

    await holder.release();
    expect(store.get('held')).toBe('child'); // and now the committed write is seen
    expect(integrity(path)).toBe('ok');
  });

  it('lets writers write while another process holds a read transaction open', async () => {
    const path = tempDb();
    using store = new KVStore(path, { timeout: 2000 });
    store.set('k', 0);
    const holder = await holdLock(path, 'key_value_store', 3000, 'read');
    const ms = timed(() => {
      store.set('k', 1);
      store.incr('n');
      store.setMany({ a: 1, b: 2 });
      store.transaction((s) => s.delete('a'));
    });
    expect(holder.released).toBe(false);
    expect(ms).toBeLessThan(500); // a writer blocked by the reader would wait the full 2 s timeout
    expect(store.items()).toEqual([
      ['b', 2],
      ['k', 1],
      ['n', 1],
    ]);
    await holder.release();
  });
});

describe('writers that cannot get the lock', () => {
  it('wait for a lock that is released within timeout, then write after the other writer', async () => {
    const path = tempDb();
    using store = new KVStore(path, { timeout: 10_000 });
    store.set('held', 'before');
    const holder = await holdLock(path, 'key_value_store', 400, 'commit');
    // Blocks (synchronously) until the child commits after 400 ms, then writes.
    store.set('held', 'parent');
    expect(store.incr('n')).toBe(1);
    await holder.done;
    expect(store.get('held')).toBe('parent'); // written after the child's committed "child"
  });

  it('fail with ERR_KV_BUSY after timeout (200 ms), for every write, and write nothing', async () => {
    const path = tempDb();
    const clock = new FakeClock();
    using store = new KVStore(path, { timeout: 200, clock });
    store.set('keep', 'v');
    store.set('counter', 5);
    store.set('ttl', 't', 60);
    store.setMany({ 'p:1': 1, 'p:2': 2 });
    store.set('gone', 'x', 1);
    clock.advance(2); // 'gone' is expired: purgeExpired has a row to delete
    const before = store.items();
    const ttlBefore = store.ttl('ttl');

    const holder = await holdLock(path, 'key_value_store', 30_000, 'rollback');
    let called = false;
    const writes: Record<string, () => unknown> = {
      set: () => store.set('keep', 'changed'),
      'set (new key)': () => store.set('new', 1),
      add: () => store.add('new', 1),
      delete: () => store.delete('keep'),
      pop: () => store.pop('keep'),
      touch: () => store.touch('ttl', 5),
      incr: () => store.incr('counter'),
      decr: () => store.decr('counter'),
      setMany: () => store.setMany(Array.from({ length: 100 }, (_, i) => [`m:${i}`, i] as const)),
      clear: () => store.clear(),
      'clear (prefix)': () => store.clear({ prefix: 'p:' }),
      purgeExpired: () => store.purgeExpired(),
      transaction: () =>
        store.transaction(() => {
          called = true;
        }),
    };
    for (const [name, write] of Object.entries(writes)) {
      const started = performance.now();
      const err = thrown(write);
      const ms = performance.now() - started;
      expect([name, err instanceof KVError, err.code]).toEqual([name, true, 'ERR_KV_BUSY']);
      expect([name, (err.cause as { code?: string }).code]).toEqual([name, expect.stringMatching(/^SQLITE_BUSY/)]);
      expect([name, ms < 2000]).toEqual([name, true]); // gave up after its timeout, not after the 30 s lock
      // Reads go on meanwhile.
      expect(store.get('keep')).toBe('v');
    }
    expect(called).toBe(false);
    expect(holder.released).toBe(false);
    await holder.release();

    // Nothing was half-written: the file is exactly as before.
    expect(store.items()).toEqual(before);
    expect(store.ttl('ttl')).toBe(ttlBefore);
    expect(store.has('held')).toBe(false); // the holder rolled back
    // And every write works again.
    store.set('keep', 'changed');
    expect(store.incr('counter')).toBe(6);
    store.setMany({ 'm:1': 1 });
    store.purgeExpired(); // (the writes above may have culled it already)
    expect(withRaw(path, (db) => db.prepare("SELECT count(*) FROM key_value_store WHERE key = 'gone'").pluck().get())).toBe(0);
    expect(store.get('keep')).toBe('changed');
    expect(integrity(path)).toBe('ok');
  });
});

describe('what a read sees while another connection commits', () => {
  /**
   * A store holding a = "a0" and b = "b0", whose serializer, while decoding
   * "a0" (that is, in the middle of a read), has another connection commit
   * b = "b1". Close `other` when done.
   */
  function storeWithCommitMidRead(): { store: KVStore; other: Database.Database } {
    const path = tempDb();
    const conn: { other?: Database.Database } = {}; // opened once the store has its rows
    const hooked: Serializer = {
      name: 'json-hooked',
      serialize: (v) => JSON.stringify(v),
      deserialize: (d) => {
        const text = String(d);
        if (text === '"a0"') conn.other?.prepare("UPDATE kv SET value = '\"b1\"' WHERE key = 'b'").run();
        return JSON.parse(text) as unknown;
      },
    };
    const store = new KVStore(path, { table: 'kv', serializer: hooked });
    store.setMany({ a: 'a0', b: 'b0' });
    conn.other = new Database(path, { timeout: 1000 });
    return { store, other: conn.other };
  }

  it('getMany reads one snapshot: a commit made in the middle of it is not seen', () => {
    const { store, other } = storeWithCommitMidRead();
    expect(store.getMany(['a', 'b'])).toEqual(new Map([['a', 'a0'], ['b', 'b0']])); // b as it was when the read began
    expect(store.get('b')).toBe('b1'); // the commit did happen
    other.close();
    store.close();
  });

  it('entries() is not a snapshot: a commit made between two batches is seen', () => {
    const { store, other } = storeWithCommitMidRead();
    expect([...store.entries({ batchSize: 1 })]).toEqual([
      ['a', 'a0'],
      ['b', 'b1'], // written after the iteration began
    ]);
    other.close();
    store.close();
  });
});
