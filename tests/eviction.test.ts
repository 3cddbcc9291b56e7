/**
 * Limits, eviction, statistics and tags on SQLite files, where the contract
 * (tests/contract/upkeep-contract.ts) cannot look: the write lock, the raw
 * tables the triggers keep, other handles on the same file, and the bound
 * on the work of one write.
 */
import Database from 'better-sqlite3';
import { KVDatabase, KVStore } from '../src';
import { FakeClock, tempDb, thrown, withRaw } from './helpers';

/** What the counters say, and what the table holds. */
function counted(path: string, table: string): { counters: [number, number]; table: [number, number] } {
  return withRaw(path, (db) => ({
    counters: db.prepare('SELECT sum(bytes), sum(entries) FROM drizzle_kv_counters WHERE store = ?').raw().get(table) as [number, number],
    table: db.prepare(`SELECT coalesce(sum(size), 0), count(*) FROM "${table}"`).raw().get() as [number, number],
  }));
}

/** A tiny deterministic PRNG (the tests must not depend on luck). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('limits and eviction on SQLite', () => {
  it('reads under LRU and LFU never take the write lock: they answer while another connection holds it', () => {
    for (const eviction of ['lru', 'lfu'] as const) {
      const path = tempDb();
      using store = new KVStore(path, { timeout: 50, limits: { maxEntries: 100, eviction } });
      store.set('a', 1);
      const other = new Database(path);
      other.exec('BEGIN IMMEDIATE');
      other.prepare(`UPDATE key_value_store SET value = '2' WHERE key = 'a'`).run();
      try {
        for (let i = 0; i < 200; i++) expect(store.get('a')).toBe(1);
        expect(store.getMany(['a', 'b'])).toEqual(new Map([['a', 1]]));
        // The lock is real: a write waits for it and fails (what the reads above did not do).
        expect(thrown(() => store.set('b', 2)).code).toBe('ERR_KV_BUSY');
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      expect(store.stats().hits).toBe(201);
    }
  });

  it('folds the reads of a handle that only reads into the file within a few seconds, by itself', async () => {
    const path = tempDb();
    using writer = new KVStore(path, { limits: { maxEntries: 100, eviction: 'lru' } });
    writer.set('a', 1);
    const before = withRaw(path, (db) => db.prepare("SELECT accessed_at, hits FROM key_value_store WHERE key = 'a'").get()) as { accessed_at: number; hits: number };
    using reader = new KVStore(path);
    await new Promise((resolve) => setTimeout(resolve, 5));
    reader.get('a');
    reader.get('a');
    const deadline = Date.now() + 5000;
    let after = before;
    while (Date.now() < deadline && after.hits === 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = withRaw(path, (db) => db.prepare("SELECT accessed_at, hits FROM key_value_store WHERE key = 'a'").get()) as typeof before;
    }
    expect(after.hits).toBe(2);
    expect(after.accessed_at).toBeGreaterThan(before.accessed_at);
  });

  it('no write evicts more than 64 rows plus twice what it wrote, and the store converges to its limit', () => {
    const path = tempDb();
    const clock = new FakeClock();
    using store = new KVStore(path, { clock });
    store.setMany(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i] as const));
    store.setLimits({ maxEntries: 100 });
    let writes = 0;
    const perWrite: number[] = [];
    while (store.stats().entries! > 100) {
      const before = store.stats().evictions;
      clock.advance(1);
      store.set(`new${writes++}`, 1);
      perWrite.push(store.stats().evictions - before);
    }
    expect(Math.max(...perWrite)).toBe(66); // the bound, reached: a write of one row evicts 64 + 2
    expect(writes).toBe(14); // 900 rows over, 65 a write net
    expect(store.size).toBe(99); // evicted down to its low-water mark, 99% of the limit
  });

  it('another handle on the file learns of new limits within 64 of its writes', () => {
    const path = tempDb();
    const clock = new FakeClock();
    using a = new KVStore(path, { clock });
    using b = new KVStore(path, { clock });
    a.set('first', 1); // b's first write checks the limits too: make it come before they are set
    b.set('second', 1);
    a.setLimits({ maxEntries: 10 });
    for (let i = 0; i < 64; i++) {
      clock.advance(1);
      b.set(`b${i}`, i);
    }
    expect(b.stats().limits).toEqual({ maxBytes: null, maxEntries: 10, eviction: 'lrs' });
    expect(b.size).toBeLessThanOrEqual(10 + 63);
    clock.advance(1);
    b.set('last', 1);
    expect(b.size).toBe(10);
  });

  it('the counters agree with the table after any mix of writes, deletes, evictions and expiries', () => {
    const path = tempDb();
    const clock = new FakeClock();
    const random = prng(7);
    using store = new KVStore(path, { clock, limits: { maxBytes: 2000, eviction: 'lfu' } });
    for (let i = 0; i < 2000; i++) {
      clock.advance(Math.floor(random() * 50));
      const key = `k${Math.floor(random() * 200)}`;
      const op = random();
      if (op < 0.4) store.set(key, 'x'.repeat(Math.floor(random() * 40)), { ttl: random() < 0.3 ? 1 : null, tags: random() < 0.5 ? ['t'] : [] });
      else if (op < 0.55) store.get(key);
      else if (op < 0.65) store.delete(key);
      else if (op < 0.7) store.pop(key);
      else if (op < 0.8) store.incr(`n${Math.floor(random() * 5)}`);
      else if (op < 0.85) store.setMany([[key, 1], [`${key}b`, 2]]);
      else if (op < 0.9) store.touch(key, 5);
      else if (op < 0.93) store.invalidateTag('t');
      else if (op < 0.95) store.clear({ prefix: 'k1' });
      else store.purgeExpired();
      if (i % 100 === 0) {
        const { counters, table } = counted(path, 'key_value_store');
        expect(counters).toEqual(table);
      }
    }
    const { counters, table } = counted(path, 'key_value_store');
    expect(counters).toEqual(table);
    expect(table[0]).toBeLessThanOrEqual(2000 + 200);
    // Every tag row belongs to a row that carries the tag.
    const orphans = withRaw(path, (db) =>
      db
        .prepare(
          `SELECT count(*) FROM drizzle_kv_tags g WHERE g.store = 'key_value_store' AND NOT EXISTS
             (SELECT 1 FROM key_value_store s, json_each(s.tags) j WHERE s.key = g.key AND j.value = g.tag)`,
        )
        .pluck()
        .get(),
    );
    expect(orphans).toBe(0);
  });

  it('dropping a store removes its counters and tag rows, and a store of the same name starts afresh', () => {
    const path = tempDb();
    using db = new KVDatabase(path);
    const s = db.store('s');
    s.set('a', 1, { tags: ['t'] });
    db.drop('s');
    expect(withRaw(path, (raw) => raw.prepare("SELECT count(*) FROM drizzle_kv_tags WHERE store = 's'").pluck().get())).toBe(0);
    expect(withRaw(path, (raw) => raw.prepare("SELECT count(*) FROM drizzle_kv_counters WHERE store = 's'").pluck().get())).toBe(0);
    const again = db.store('s');
    expect(again.stats()).toMatchObject({ bytes: 0, entries: 0 });
    expect(again.invalidateTag('t')).toBe(0);
  });

  it("a store that refuses to overfill is refused in one transaction with the write: ERR_KV_FULL leaves the file as it was", () => {
    const path = tempDb();
    using store = new KVStore(path, { limits: { maxBytes: 30, eviction: 'none' } });
    store.set('a', 'x'.repeat(10));
    const before = withRaw(path, (db) => db.prepare('SELECT * FROM key_value_store').all());
    const err = thrown(() => store.setMany({ b: 'y'.repeat(10), c: 'z'.repeat(10) }, { tags: ['t'] }));
    expect(err.code).toBe('ERR_KV_FULL');
    expect(withRaw(path, (db) => db.prepare('SELECT * FROM key_value_store').all())).toEqual(before);
    expect(withRaw(path, (db) => db.prepare('SELECT count(*) FROM drizzle_kv_tags').pluck().get())).toBe(0);
    expect(counted(path, 'key_value_store').counters).toEqual(counted(path, 'key_value_store').table);
  });
});
