// What @keyv/test-suite does not check: that the store itself keeps Keyv's
// TTLs (read under the adapter, after expiry, by a handle with its own
// clock), per-entry TTLs of setMany, the order of the many-key calls, a
// namespace's clear and iteration as key ranges, every JavaScript string as a
// key, another process seeing writes at once, fake timers, and the
// constructor's forms and refusals.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import Keyv from 'keyv';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KVDatabase, KVStore, isKVError } from '../../src';
import { type KeyvBackingStore, KeyvDrizzleKv, escapeKey, keyvSerializer, unescapeKey } from '../../src/keyv';
import { ENGINES, ManualClock, type Place, raw, tempDb } from './engines';

const T0 = Date.UTC(2030, 0, 1);
const ROOT = join(__dirname, '..', '..');

/** The error `fn` rejects or throws with (fails the test if none). */
async function failure(fn: () => unknown): Promise<Error & { code?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

async function collect<T>(iterable: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

for (const engine of ENGINES) {
  const skip = engine.unavailable !== undefined && !engine.required;
  describe.skipIf(skip)(`${engine.name}${skip ? ` (skipped: ${engine.unavailable})` : ''}`, () => {
    let place: Place;
    let store: KeyvBackingStore;
    let adapter: KeyvDrizzleKv;
    let keyv: Keyv;
    /** Another handle on the test's store, reading at `clock.time`. */
    let under: ReturnType<typeof raw>;
    const clock = new ManualClock(T0);

    beforeEach(async () => {
      if (engine.unavailable !== undefined) throw new Error(`${engine.name} is required by DRIZZLE_KV_BACKENDS: ${engine.unavailable}`);
      // Only Date is faked: the drivers' own timers keep running.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(T0);
      clock.time = T0;
      place = engine.fresh();
      store = await place.open();
      adapter = new KeyvDrizzleKv(store);
      keyv = new Keyv({ store: adapter });
      under = raw(await place.open({ clock }));
    });
    afterEach(async () => {
      vi.useRealTimers();
      await engine.cleanup();
    });

    describe('TTLs', () => {
      it('are kept by the store to the millisecond: a reader with its own clock sees the entry expire exactly at now + ttl', async () => {
        await keyv.set('a', { n: 1 }, 1500);
        expect(await under.ttl('keyv:a')).toBe(1.5);
        clock.time = T0 + 1499;
        expect(JSON.parse((await under.get('keyv:a')) as string)).toEqual({ value: { n: 1 }, expires: T0 + 1500 });
        clock.time = T0 + 1500;
        expect(await under.get('keyv:a')).toBeUndefined();
        expect(await under.has('keyv:a')).toBe(false);
        // The adapter on its own (Date.now): the store answers nothing once it expired, whatever Keyv's envelope says.
        vi.setSystemTime(T0 + 1500);
        expect(await adapter.get('keyv:a')).toBeUndefined();
        expect(await adapter.has('keyv:a')).toBe(false);
      });

      it("apply Keyv's default ttl, round a fraction of a millisecond up, and keep no expiry for undefined, 0, NaN, Infinity and TTLs past any date", async () => {
        const withDefault = new Keyv({ store: new KeyvDrizzleKv(store), ttl: 2000, namespace: 'd' });
        await withDefault.set('x', 1);
        expect(await under.ttl('d:x')).toBe(2);
        await keyv.set('frac', 1, 0.25);
        expect(await under.ttl('keyv:frac')).toBe(0.001);
        for (const [key, ttl] of [['none', undefined], ['zero', 0], ['nan', NaN], ['inf', Infinity], ['huge', 1e300]] as const) {
          await adapter.set(`keyv:${key}`, '"v"', ttl);
          expect(await under.ttl(`keyv:${key}`)).toBe(Infinity);
        }
      });

      it('a negative TTL is already expired: the write removes the key (Keyv reports it missing too)', async () => {
        await keyv.set('gone', 'old');
        expect(await keyv.set('gone', 'new', -1)).toBe(true);
        expect(await under.has('keyv:gone')).toBe(false);
        expect(await keyv.get('gone')).toBeUndefined();
      });

      it('setMany keeps each entry its own TTL, a negative one removing its key, atomically', async () => {
        await keyv.set('old', 'x');
        await keyv.setMany([
          { key: 'a', value: 1, ttl: 1000 },
          { key: 'b', value: 2, ttl: 5000 },
          { key: 'c', value: 3 },
          { key: 'd', value: 4, ttl: 1000 },
          { key: 'old', value: 'y', ttl: -5 },
        ]);
        expect([await under.ttl('keyv:a'), await under.ttl('keyv:b'), await under.ttl('keyv:c'), await under.ttl('keyv:d')]).toEqual([1, 5, Infinity, 1]);
        expect(await under.has('keyv:old')).toBe(false);
        clock.time = T0 + 1000;
        expect(await under.keys({ prefix: 'keyv:' })).toEqual(['keyv:b', 'keyv:c']);
        expect(await keyv.get(['a', 'b', 'c'])).toEqual([1, 2, 3]); // Keyv's clock (Date) has not moved
      });

      it('setMany writes all of its entries or none, in one TTL group or several; a key given twice keeps its last entry', async () => {
        // The 'keyv' serializer refuses anything but Keyv's text: here, the object of the last entry.
        for (const second of [undefined, 1000]) {
          const err = await failure(() =>
            adapter.setMany([
              { key: 'keyv:p', value: '"p"' },
              { key: 'keyv:q', value: { not: 'text' }, ttl: second },
            ]),
          );
          expect(err.code).toBe('ERR_KV_INVALID_VALUE');
          expect(await under.has('keyv:p')).toBe(false);
        }
        await adapter.setMany([
          { key: 'keyv:k', value: '"first"', ttl: 1000 },
          { key: 'keyv:k', value: '"last"' },
        ]);
        expect([await under.get('keyv:k'), await under.ttl('keyv:k')]).toEqual(['"last"', Infinity]);
        expect(await keyv.setMany([{ key: 'r', value: 1 }, { key: 's', value: 2, ttl: 10 }])).toEqual([true, true]);
      });
    });

    describe('many keys at once', () => {
      it('getMany and hasMany answer in the order asked, duplicates and missing keys included; deleteMany says whether any key was live', async () => {
        await keyv.setMany([
          { key: 'b', value: 'B' },
          { key: 'a', value: 'A' },
          { key: 'c', value: 'C', ttl: 1000 },
        ]);
        clock.time = T0 + 1000;
        vi.setSystemTime(T0 + 1000); // 'c' has expired
        const keys = ['c', 'zz', 'b', 'a', 'b'];
        expect(await keyv.get(keys)).toEqual([undefined, undefined, 'B', 'A', 'B']);
        expect(await keyv.has(keys)).toEqual([false, false, true, true, true]);
        const stored = await adapter.getMany(keys.map((k) => `keyv:${k}`));
        expect(stored.map((s) => (s === undefined ? s : JSON.parse(s as string).value))).toEqual([undefined, undefined, 'B', 'A', 'B']);
        expect(await adapter.deleteMany(['keyv:zz', 'keyv:c'])).toBe(false);
        expect(await adapter.deleteMany([])).toBe(false);
        expect(await adapter.deleteMany(['keyv:zz', 'keyv:a', 'keyv:a'])).toBe(true);
        expect(await under.keys()).toEqual(['keyv:b']);
      });
    });

    describe('namespaces', () => {
      const NAMESPACES = ['a_b', 'a%b', 'axb', 'a_bc', 'a_b:c'];

      it("clear() deletes exactly the namespace's key range: '_' and '%' are plain characters, and a longer namespace is another one", async () => {
        const byNamespace = new Map(NAMESPACES.map((ns) => [ns, new Keyv({ store: new KeyvDrizzleKv(store), namespace: ns })]));
        for (const [ns, k] of byNamespace) await k.setMany([{ key: '1', value: ns }, { key: '2', value: ns }]);
        const plain = new Keyv({ store: new KeyvDrizzleKv(store), namespace: undefined });
        await plain.set('a_b', 'no namespace');
        await byNamespace.get('a_b')?.clear();
        // 'a_b:c' is a namespace whose keys start with 'a_b:': Keyv's own prefixing cannot tell them apart.
        expect(await under.keys()).toEqual(['a%b:1', 'a%b:2', 'a_b', 'a_bc:1', 'a_bc:2', 'axb:1', 'axb:2']);
        await byNamespace.get('a%b')?.clear();
        expect(await under.keys()).toEqual(['a_b', 'a_bc:1', 'a_bc:2', 'axb:1', 'axb:2']);
        await plain.clear(); // no namespace: everything
        expect(await under.keys()).toEqual([]);
      });

      it('iterator(namespace) is a key-range scan, read in batches of batchSize, yielding the keys as Keyv wrote them', async () => {
        for (const ns of NAMESPACES) await new Keyv({ store: new KeyvDrizzleKv(store), namespace: ns }).set('k', ns);
        const asked: unknown[] = [];
        const spied = new Proxy(store, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver) as unknown;
            if (property !== 'entries' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
            return (options: unknown) => {
              asked.push(options);
              return value.call(target, options);
            };
          },
        });
        const batched = new KeyvDrizzleKv({ store: spied, batchSize: 2 });
        const scanned = await collect(batched.iterator('a_b'));
        // 'a_b:c:k' is in the range too: Keyv's own prefixing cannot tell namespace 'a_b:c' from a key 'c:k' of 'a_b'.
        expect(scanned.map(([k, v]) => [k, JSON.parse(v as string).value])).toEqual([['a_b:c:k', 'a_b:c'], ['a_b:k', 'a_b']]);
        expect(asked).toEqual([{ prefix: 'a_b:', batchSize: 2 }]);
        expect((await collect(batched.iterator(undefined))).map(([k]) => k)).toEqual(['a%b:k', 'a_b:c:k', 'a_b:k', 'a_bc:k', 'axb:k']);
        const viaKeyv = new Keyv({ store: new KeyvDrizzleKv({ store, batchSize: 1 }), namespace: 'a%b' });
        expect(await collect(viaKeyv.iterator?.(undefined) ?? [])).toEqual([['k', 'a%b']]);
      });
    });

    describe('keys', () => {
      const AWKWARD = ['\uD800', '\uDFFF', 'x\uDC00y', '\uD83D\uDE00', '\uFFFD', '\uFFFF', '\uFFFFd800', 'nul\u0000key', '\u0000', ''];

      it('every JavaScript string is a key: lone surrogates, U+0000 and U+FFFF are stored escaped, reversibly, and never merge with another key', async () => {
        for (const [i, key] of AWKWARD.entries()) expect(await keyv.set(key, i)).toBe(true);
        for (const [i, key] of AWKWARD.entries()) {
          expect(await keyv.get(key)).toBe(i);
          expect(await keyv.has(key)).toBe(true);
        }
        expect(await keyv.get(AWKWARD)).toEqual(AWKWARD.map((_, i) => i));
        const listed = new Map(await collect(keyv.iterator?.(undefined) ?? []));
        expect(new Map(AWKWARD.map((k, i) => [k, i]))).toEqual(listed);
        // Under the adapter: the escaped forms, and the keys that needed no escape as they are.
        expect(await under.has('keyv:\uFFFFd800')).toBe(true);
        expect(await under.has('keyv:\uFFFF\uFFFFd800')).toBe(true);
        expect(await under.has('keyv:nul\uFFFF0000key')).toBe(true);
        expect(await under.has('keyv:\uD83D\uDE00')).toBe(true);
        expect(await keyv.delete('\uD800')).toBe(true);
        expect(await keyv.get('\uD800')).toBeUndefined();
        expect(await keyv.get('\uFFFD')).toBe(AWKWARD.indexOf('\uFFFD'));
      });

      it('a namespace holding a lone surrogate is cleared and iterated as its own key range', async () => {
        const odd = new Keyv({ store: new KeyvDrizzleKv(store), namespace: 'n\uD800' });
        const other = new Keyv({ store: new KeyvDrizzleKv(store), namespace: 'n\uFFFD' });
        await odd.set('k\uDFFF', 1);
        await other.set('k', 2);
        expect(await collect(odd.iterator?.(undefined) ?? [])).toEqual([['k\uDFFF', 1]]);
        await odd.clear();
        expect(await other.get('k')).toBe(2);
        expect(await odd.get('k\uDFFF')).toBeUndefined();
      });
    });
  });
}

describe('escapeKey', () => {
  // Strings of UTF-16 code units, biased to the ones the escape is about.
  const unit = fc.oneof(fc.constantFrom(0, 0x3a, 0x66, 0x30, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xfffd, 0xffff), fc.integer({ min: 0, max: 0xffff }));
  const text = fc.array(unit, { maxLength: 12 }).map((units) => String.fromCharCode(...units));

  it('is reversible, stores only well-formed keys without U+0000, and leaves every other key as it is', () => {
    fc.assert(
      fc.property(text, (key) => {
        const stored = escapeKey(key);
        expect(unescapeKey(stored)).toBe(key);
        expect(stored.isWellFormed()).toBe(true);
        expect(stored.includes('\u0000')).toBe(false);
        if (key.isWellFormed() && !/[\0\uFFFF]/.test(key)) expect(stored).toBe(key);
      }),
      { numRuns: 2000 },
    );
  });

  it('never merges two keys, and keeps namespace prefixes: escapeKey(ns + ":" + key) starts with escapeKey(ns + ":") exactly when the key does', () => {
    fc.assert(
      fc.property(text, text, text, (ns, key, other) => {
        if (key !== other) expect(escapeKey(key)).not.toBe(escapeKey(other));
        const prefix = `${ns}:`;
        expect(escapeKey(prefix + key)).toBe(escapeKey(prefix) + escapeKey(key));
        expect(escapeKey(other).startsWith(escapeKey(prefix))).toBe(other.startsWith(prefix));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the adapter on a SQLite file', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("opens the file's 'keyv' table, recorded with the 'keyv' serializer, and closes it at disconnect()", async () => {
    const path = tempDb();
    const adapter = new KeyvDrizzleKv(path);
    expect(adapter.opts).toEqual({ dialect: 'sqlite', url: path, table: 'keyv' });
    const keyv = new Keyv(adapter);
    await keyv.set('k', [1, 2]);
    await keyv.disconnect();
    expect(adapter.store.closed).toBe(true);
    using db = new KVDatabase(path);
    expect(db.stores().map((s) => [s.name, s.serializer])).toEqual([['keyv', 'keyv']]);
    // Read with another serializer, the store is refused rather than misread.
    expect((await failure(() => db.store('keyv'))).code).toBe('ERR_KV_SERIALIZER_MISMATCH');
    expect(JSON.parse(db.store('keyv', { serializer: keyvSerializer }).get('keyv:k') as string)).toEqual({ value: [1, 2] });
  });

  it('takes file options: { path, table, batchSize } and the store options but a serializer', async () => {
    const path = tempDb();
    const adapter = new KeyvDrizzleKv({ path, table: 'cache', batchSize: 10, defaultTtl: 60 });
    const keyv = new Keyv({ store: adapter });
    await keyv.set('k', 1); // no TTL from Keyv: the store's defaultTtl (seconds) applies
    expect((adapter.store as KVStore).ttl('keyv:k')).toBeCloseTo(60, 0);
    await adapter.disconnect();
    expect(new KVDatabase(path).stores().map((s) => s.name)).toEqual(['cache']);
    expect((await failure(() => new KeyvDrizzleKv({ path, serializer: 'json' } as never))).code).toBe('ERR_KV_INVALID_OPTION');
    expect((await failure(() => new KeyvDrizzleKv({ path, nonsense: 1 } as never))).code).toBe('ERR_KV_INVALID_OPTION');
    expect((await failure(() => new KeyvDrizzleKv({ path, batchSize: 0 }))).code).toBe('ERR_KV_INVALID_OPTION');
    expect((await failure(() => new KeyvDrizzleKv({ path: 42 } as never))).code).toBe('ERR_KV_INVALID_OPTION');
  });

  it('runs on a store the app opened, which disconnect() leaves open; refuses what is not a store', async () => {
    const store = new KVStore(tempDb(), { table: 'mine', serializer: keyvSerializer });
    const adapter = new KeyvDrizzleKv({ store, clock: { now: () => Date.now() } });
    expect(adapter.store).toBe(store);
    expect(adapter.opts).toEqual({ dialect: 'sqlite', url: '', table: 'mine' });
    await new Keyv(adapter).set('k', 'v');
    await adapter.disconnect();
    expect(store.closed).toBe(false);
    expect(store.keys()).toEqual(['keyv:k']);
    store.close();
    for (const bad of [undefined, null, 42, {}, { get() {} }, new Map()]) {
      expect((await failure(() => new KeyvDrizzleKv(bad as never))).code).toBe('ERR_KV_INVALID_ARGUMENT');
    }
    expect((await failure(() => new KeyvDrizzleKv({ store: {} as never }))).code).toBe('ERR_KV_INVALID_OPTION');
    expect((await failure(() => new KeyvDrizzleKv({ store, table: 'x' } as never))).code).toBe('ERR_KV_INVALID_OPTION');
    expect((await failure(() => new KeyvDrizzleKv({ store, clock: Date } as never))).code).toBe('ERR_KV_INVALID_OPTION');
  });

  it("stores only Keyv's text: with Keyv's serialize turned off, set() fails (Keyv emits the error and answers false)", async () => {
    const adapter = new KeyvDrizzleKv(tempDb());
    const keyv = new Keyv({ store: adapter, serialize: undefined, deserialize: undefined });
    const errors: unknown[] = [];
    keyv.on('error', (err) => errors.push(err));
    expect(await keyv.set('k', { a: 1 })).toBe(false);
    expect(errors).toHaveLength(1);
    expect(isKVError(errors[0]) && errors[0].code).toBe('ERR_KV_INVALID_VALUE');
    expect(() => keyvSerializer.serialize(Buffer.from('x'))).toThrow(/the 'keyv' serializer stores the text Keyv serialized/);
    expect(keyvSerializer.deserialize(new TextEncoder().encode('é'))).toBe('é');
    await adapter.disconnect();
  });

  it("vitest's fake timers control expiry: the store's clock reads Date.now at each call", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const path = tempDb();
    const adapter = new KeyvDrizzleKv(path);
    const keyv = new Keyv({ store: adapter });
    vi.advanceTimersByTime(10_000); // the adapter reads the time at each write, not once
    await keyv.set('k', 'v', 60_000);
    expect((adapter.store as KVStore).ttl('keyv:k')).toBe(60);
    vi.advanceTimersByTime(59_999);
    expect(await keyv.get('k')).toBe('v');
    expect(await adapter.has('keyv:k')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(await adapter.get('keyv:k')).toBeUndefined();
    expect(await keyv.get('k')).toBeUndefined();
    // Gone from the file, not only hidden, once culled (writes cull some as they go; purgeExpired the rest).
    await keyv.set('other', 1);
    (adapter.store as KVStore).purgeExpired();
    vi.useRealTimers();
    using db = new KVDatabase(path);
    expect(db.store('keyv', { serializer: keyvSerializer }).stats().entries).toBe(1);
    await adapter.disconnect();
  });

  it('another process sees each write at once, and its writes are seen here (the built package, required by a child)', async () => {
    const built = join(ROOT, 'dist/keyv.cjs');
    if (!existsSync(built)) throw new Error('dist/keyv.cjs is missing: run `npm run build` (npm test builds first)');
    const path = tempDb();
    const keyv = new Keyv({ store: new KeyvDrizzleKv(path), namespace: 'shared' });
    await keyv.set('from-parent', { n: 1 }, 60_000);
    const child = `const { KeyvDrizzleKv } = require(process.argv[1]);
      const { Keyv } = require('keyv');
      const keyv = new Keyv({ store: new KeyvDrizzleKv(process.argv[2]), namespace: 'shared' });
      (async () => {
        const seen = await keyv.get('from-parent');
        await keyv.set('from-child', { pid: process.pid });
        const keys = [];
        for await (const [key] of keyv.iterator()) keys.push(key);
        await keyv.disconnect();
        console.log(JSON.stringify({ seen, keys }));
      })();`;
    const result = spawnSync(process.execPath, ['-e', child, built, path], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ seen: { n: 1 }, keys: ['from-child', 'from-parent'] });
    expect(await keyv.get('from-child')).toEqual({ pid: expect.any(Number) });
    await keyv.disconnect();
  });
});
