/**
 * The behaviour every store must have, whatever its engine and mode. Each
 * test gets a fresh, uniquely named store on a FakeClock (TTLs never sleep),
 * and awaits every call: awaiting a sync result is harmless, so the same
 * body runs on the sync `KVStore` and on every `AsyncKVStore`. Where an
 * engine may differ, the backend declares it (`backend.differences`) and the
 * test checks the declared behaviour.
 */
import { FakeClock } from '../helpers';
import type { Backend, ContractStore, OpenStoreOptions } from './backends';
import { codeOf, collect, failure, runTransaction } from './support';

/** UTF-8 byte order, which is code-point order: the order every engine lists keys in. */
export const byCodePoint = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const MISSING = Symbol('missing');

export function describeStoreContract(backend: Backend): void {
  describe('store contract', () => {
    let clock: FakeClock;
    let store: ContractStore;
    /** Opens another fresh store on the test's clock, closed after `fn`. */
    const withStore = async (options: Omit<OpenStoreOptions, 'clock'>, fn: (s: ContractStore) => Promise<void>): Promise<void> => {
      const other = await backend.openStore({ clock, ...options });
      try {
        await fn(other);
      } finally {
        await other.close();
      }
    };
    beforeEach(async () => {
      clock = new FakeClock();
      store = await backend.openStore({ clock });
    });
    afterEach(async () => {
      await store.close();
    });

    describe('get / set', () => {
      it('round-trips JSON values', async () => {
        const value = { name: 'Alice', age: 30, tags: ['a', 'b'], nested: { ok: true, none: null } };
        await store.set('user:1', value);
        expect(await store.get('user:1')).toEqual(value);
      });

      it('returns undefined, or the default, for a missing key', async () => {
        expect(await store.get('nope')).toBeUndefined();
        expect(await store.get('nope', 0)).toBe(0);
      });

      it('treats a stored null as a value, not a miss', async () => {
        await store.set('n', null);
        expect(await store.get('n', 'default')).toBeNull();
        expect(await store.has('n')).toBe(true);
      });

      it('replaces the previous value', async () => {
        await store.set('k', 1);
        await store.set('k', 'two');
        expect(await store.get('k')).toBe('two');
        expect(await store.size).toBe(1);
      });

      it('keeps the empty key and unicode keys apart', async () => {
        await store.set('', 'empty');
        await store.set('ключ-🔑', 'unicode');
        await store.set('caf\u00e9', 'nfc');
        await store.set('cafe\u0301', 'nfd');
        expect(await store.get('')).toBe('empty');
        expect(await store.get('ключ-🔑')).toBe('unicode');
        expect(await store.get('caf\u00e9')).toBe('nfc');
        expect(await store.get('cafe\u0301')).toBe('nfd');
        expect(await store.size).toBe(4);
      });

      it('refuses a key that is not a string', async () => {
        const err = await failure(() => store.set(42 as unknown as string, 1));
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_KV_INVALID_KEY');
        expect(await codeOf(() => store.get(undefined as unknown as string))).toBe('ERR_KV_INVALID_KEY');
      });

      it('refuses a key with a lone surrogate, which would be stored as U+FFFD', async () => {
        expect(await codeOf(() => store.set('a\ud800', 1))).toBe('ERR_KV_INVALID_KEY');
        expect(await store.size).toBe(0);
      });

      if (backend.differences.nulInKeys) {
        it('keeps a key with U+0000 exactly, apart from its prefix (declared: nulInKeys)', async () => {
          await store.setMany([
            ['a', 1],
            ['a\u0000', 2],
            ['a\u0000b', 3],
            ['\u0000', 4],
          ]);
          expect(await store.get('a\u0000b')).toBe(3);
          expect(await store.get('\u0000')).toBe(4);
          expect(await store.keys()).toEqual(['\u0000', 'a', 'a\u0000', 'a\u0000b']);
          expect(await store.keys({ prefix: 'a\u0000' })).toEqual(['a\u0000', 'a\u0000b']);
          expect((await collect(store.entries({ batchSize: 1 }))).map(([k]) => k)).toEqual(['\u0000', 'a', 'a\u0000', 'a\u0000b']);
          expect(await store.pop('a\u0000')).toBe(2);
          expect(await store.keys()).toEqual(['\u0000', 'a', 'a\u0000b']);
        });
      } else {
        it('refuses a key with U+0000 with ERR_KV_INVALID_KEY, writing nothing (declared: no nulInKeys)', async () => {
          expect(await codeOf(() => store.set('a\u0000b', 1))).toBe('ERR_KV_INVALID_KEY');
          expect(await codeOf(() => store.get('\u0000'))).toBe('ERR_KV_INVALID_KEY');
          expect(await codeOf(() => store.incr('n\u0000'))).toBe('ERR_KV_INVALID_KEY');
          expect(await codeOf(() => store.keys({ prefix: 'a\u0000' }))).toBe('ERR_KV_INVALID_KEY');
          expect(await codeOf(() => store.getMany(['a', 'a\u0000']))).toBe('ERR_KV_INVALID_KEY');
          expect(
            await codeOf(() =>
              store.setMany([
                ['a', 1],
                ['a\u0000', 2],
              ]),
            ),
          ).toBe('ERR_KV_INVALID_KEY');
          expect(await store.size).toBe(0);
        });
      }
    });

    describe('TTL', () => {
      it('expires entries after ttl seconds', async () => {
        await store.set('k', 'v', 10);
        clock.advance(9.999);
        expect(await store.get('k')).toBe('v');
        clock.advance(0.001);
        expect(await store.get('k', 'gone')).toBe('gone');
      });

      it('accepts fractional seconds', async () => {
        await store.set('k', 'v', 0.25);
        clock.advance(0.2);
        expect(await store.has('k')).toBe(true);
        clock.advance(0.05);
        expect(await store.has('k')).toBe(false);
      });

      it('treats null and Infinity as no expiry', async () => {
        await store.set('a', 1, null);
        await store.set('b', 2, Infinity);
        clock.advance(1e9);
        expect(await store.get('a')).toBe(1);
        expect(await store.ttl('b')).toBe(Infinity);
      });

      it.each([0, -1, NaN, -Infinity])('refuses ttl %p with a RangeError and writes nothing', async (ttl) => {
        const err = await failure(() => store.set('k', 1, ttl));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.code).toBe('ERR_KV_INVALID_TTL');
        expect(await store.has('k')).toBe(false);
      });

      it('refuses a ttl that is not a number with a TypeError', async () => {
        const err = await failure(() => store.set('k', 1, '10' as unknown as number));
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_KV_INVALID_TTL');
      });

      it('hides expired entries from every read', async () => {
        await store.set('live', 1);
        await store.set('dead', 2, 1);
        clock.advance(2);
        expect(await store.has('dead')).toBe(false);
        expect(await store.get('dead', 'none')).toBe('none');
        expect(await store.keys()).toEqual(['live']);
        expect(await store.values()).toEqual([1]);
        expect(await store.items()).toEqual([['live', 1]]);
        expect(await collect(store.entries())).toEqual([['live', 1]]);
        expect(await store.size).toBe(1);
        expect(await store.ttl('dead')).toBeUndefined();
        expect(await store.getMany(['live', 'dead'])).toEqual(new Map([['live', 1]]));
        expect(await store.delete('dead')).toBe(false);
        expect(await store.pop('dead', 'none')).toBe('none');
      });

      it('reports the remaining ttl in seconds', async () => {
        await store.set('k', 1, 100);
        clock.advance(40);
        expect(await store.ttl('k')).toBeCloseTo(60);
        expect(await store.ttl('missing')).toBeUndefined();
      });

      it('touch gives a live entry a new ttl, and can remove it', async () => {
        await store.set('k', 1, 10);
        clock.advance(5);
        expect(await store.touch('k', 100)).toBe(true);
        clock.advance(50);
        expect(await store.get('k')).toBe(1);
        expect(await store.touch('k', null)).toBe(true);
        expect(await store.ttl('k')).toBe(Infinity);
        expect(await store.touch('missing', 10)).toBe(false);
      });

      it('touch does not revive an expired entry', async () => {
        await store.set('k', 1, 1);
        clock.advance(2);
        expect(await store.touch('k', 100)).toBe(false);
        expect(await store.has('k')).toBe(false);
      });

      it('purgeExpired deletes exactly the expired rows and returns their count', async () => {
        await store.setMany(
          Array.from({ length: 2500 }, (_, i) => [`e${i}`, i] as const),
          1,
        );
        await store.set('keep', 'me', 1000);
        await store.set('forever', 'me');
        clock.advance(2);
        expect(await store.purgeExpired()).toBe(2500);
        expect(await store.purgeExpired()).toBe(0);
        expect(await store.keys()).toEqual(['forever', 'keep']);
        expect(await store.size).toBe(2);
      });

      it('a store defaultTtl applies to writes that pass none, and null overrides it', async () => {
        await withStore({ defaultTtl: 10 }, async (s) => {
          await s.set('d', 1);
          await s.setMany({ m: 2 });
          expect(await s.add('a', 3)).toBe(true);
          expect(await s.incr('n')).toBe(1);
          await s.set('forever', 4, null);
          for (const k of ['d', 'm', 'a', 'n']) expect(await s.ttl(k)).toBeCloseTo(10);
          clock.advance(10);
          expect(await s.keys()).toEqual(['forever']);
        });
      });
    });

    describe('add, delete, pop, has', () => {
      it('add stores only when the key is absent or expired', async () => {
        expect(await store.add('k', 1)).toBe(true);
        expect(await store.add('k', 2)).toBe(false);
        expect(await store.get('k')).toBe(1);
        await store.set('t', 'old', 1);
        clock.advance(2);
        expect(await store.add('t', 'new', 5)).toBe(true);
        expect(await store.get('t')).toBe('new');
        expect(await store.ttl('t')).toBeCloseTo(5);
      });

      it('add over an expired row not yet purged succeeds, with its own expiry', async () => {
        await store.setMany(
          [
            ['x', 'old'],
            ['y', 'old'],
          ],
          1,
        );
        clock.advance(1); // expires exactly now: the row is still in the table
        expect(await store.add('x', 'new')).toBe(true);
        expect(await store.get('x')).toBe('new');
        expect(await store.ttl('x')).toBe(Infinity);
        expect(await store.add('x', 'newer')).toBe(false);
        expect(await store.keys()).toEqual(['x']);
      });

      it('delete reports whether a live key was removed', async () => {
        await store.set('k', 1);
        expect(await store.delete('k')).toBe(true);
        expect(await store.delete('k')).toBe(false);
        expect(await store.get('k')).toBeUndefined();
      });

      it('pop removes and returns the value', async () => {
        await store.set('k', { a: 1 });
        expect(await store.pop('k')).toEqual({ a: 1 });
        expect(await store.pop('k', 'default')).toBe('default');
        expect(await store.pop('k')).toBeUndefined();
        expect(await store.has('k')).toBe(false);
      });

      it('pop gives the value exactly once to two racing callers', async () => {
        for (let round = 0; round < 10; round++) {
          await store.set('prize', round);
          const both =
            backend.mode === 'async'
              ? await Promise.all([store.pop('prize', MISSING), store.pop('prize', MISSING)])
              : [await store.pop('prize', MISSING), await store.pop('prize', MISSING)];
          expect(both.filter((v) => v === round)).toHaveLength(1);
          expect(both.filter((v) => v === MISSING)).toHaveLength(1);
        }
        expect(await store.size).toBe(0);
      });

      it('add lets exactly one of two racing callers win', async () => {
        const both =
          backend.mode === 'async'
            ? await Promise.all([store.add('lock', 'first'), store.add('lock', 'second')])
            : [await store.add('lock', 'first'), await store.add('lock', 'second')];
        expect(both.filter(Boolean)).toHaveLength(1);
        expect(await store.get('lock')).toBe(both[0] ? 'first' : 'second');
      });
    });

    describe('incr / decr', () => {
      it('counts from zero and keeps counting', async () => {
        expect(await store.incr('n')).toBe(1);
        expect(await store.incr('n', 5)).toBe(6);
        expect(await store.decr('n')).toBe(5);
        expect(await store.decr('n', 10)).toBe(-5);
        expect(await store.get('n')).toBe(-5);
      });

      it('does JavaScript float arithmetic on every engine: 0.1 + 0.2 is 0.30000000000000004', async () => {
        expect(await store.incr('f', 0.1)).toBe(0.1);
        expect(await store.incr('f', 0.2)).toBe(0.30000000000000004);
        expect(await store.get('f')).toBe(0.30000000000000004);
        await store.set('g', 0.3);
        expect(await store.decr('g', 0.1)).toBe(0.19999999999999998);
        expect(await store.incr('big', 2 ** 53 - 2)).toBe(2 ** 53 - 2);
        expect(await store.incr('big')).toBe(2 ** 53 - 1);
        expect(await store.incr('tiny', 5e-324)).toBe(5e-324);
        expect(await store.get('tiny')).toBe(5e-324);
      });

      it('counts a missing or expired key from 0', async () => {
        expect(await store.incr('new', 2.5)).toBe(2.5);
        expect(await store.decr('neg', 3)).toBe(-3);
        await store.set('old', 100, 1);
        clock.advance(1);
        expect(await store.incr('old', 7)).toBe(7);
      });

      it('keeps the expiry of an existing counter, and restarts an expired one', async () => {
        await store.set('n', 10, 10);
        expect(await store.incr('n')).toBe(11);
        expect(await store.ttl('n')).toBeCloseTo(10);
        clock.advance(11);
        expect(await store.incr('n')).toBe(1);
        expect(await store.ttl('n')).toBe(Infinity);
      });

      it('refuses a value that is not a number, changing nothing', async () => {
        await store.set('s', 'text');
        const err = await failure(() => store.incr('s'));
        expect(err.code).toBe('ERR_KV_NOT_A_NUMBER');
        expect(await store.get('s')).toBe('text');
        for (const value of ['1', null, true, { n: 1 }, [1]]) {
          await store.set('v', value);
          expect(await codeOf(() => store.decr('v'))).toBe('ERR_KV_NOT_A_NUMBER');
          expect(await store.get('v')).toEqual(value);
        }
        expect(await codeOf(() => store.incr('n', NaN))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await codeOf(() => store.incr('n', '1' as unknown as number))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await store.has('n')).toBe(false);
      });

      it('refuses to count past Number.MAX_SAFE_INTEGER, changing nothing', async () => {
        await store.set('n', Number.MAX_SAFE_INTEGER);
        expect(await codeOf(() => store.incr('n'))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await store.get('n')).toBe(Number.MAX_SAFE_INTEGER);
      });

      it('loses no update of concurrent increments', async () => {
        const n = 25;
        if (backend.mode === 'async') await Promise.all(Array.from({ length: n }, () => store.incr('c')));
        else for (let i = 0; i < n; i++) await store.incr('c');
        expect(await store.get('c')).toBe(n);
      });
    });

    describe('getMany / setMany', () => {
      it('writes and reads many entries', async () => {
        await store.setMany([
          ['a', 1],
          ['b', { x: 2 }],
        ]);
        await store.setMany({ c: 3 }, 10);
        expect(await store.getMany(['a', 'b', 'c', 'missing'])).toEqual(
          new Map<string, unknown>([
            ['a', 1],
            ['b', { x: 2 }],
            ['c', 3],
          ]),
        );
        expect(await store.ttl('c')).toBeCloseTo(10);
      });

      it('leaves missing and expired keys out of getMany', async () => {
        await store.setMany({ live: 1, 'also live': null });
        await store.set('dead', 2, 1);
        clock.advance(1);
        const found = await store.getMany(['dead', 'live', 'missing', 'also live', 'live']);
        expect(found).toEqual(
          new Map<string, unknown>([
            ['live', 1],
            ['also live', null],
          ]),
        );
        expect(await store.getMany([])).toEqual(new Map());
      });

      it('keeps the last value of a key given twice', async () => {
        await store.setMany([
          ['k', 1],
          ['j', 2],
          ['k', 3],
        ]);
        expect(await store.get('k')).toBe(3);
        expect(await store.items()).toEqual([
          ['j', 2],
          ['k', 3],
        ]);
      });

      it('writes nothing when one value in the middle is refused', async () => {
        await store.set('a', 'before');
        const err = await failure(() =>
          store.setMany([
            ['a', 'after'],
            ['bad', () => 1],
            ['c', 3],
          ]),
        );
        expect(err.code).toBe('ERR_KV_INVALID_VALUE');
        expect(await store.items()).toEqual([['a', 'before']]);
      });

      it('writes nothing when one key is refused', async () => {
        const err = await failure(() =>
          store.setMany([
            ['good', 1],
            [7 as unknown as string, 2],
          ]),
        );
        expect(err.code).toBe('ERR_KV_INVALID_KEY');
        expect(await store.size).toBe(0);
      });
    });

    describe('listing', () => {
      beforeEach(async () => {
        await store.setMany(['user:2', 'user:1', 'user_x', 'userA', 'session:1', 'user:10', 'USER:3'].map((k) => [k, k.length] as const));
      });

      it('lists keys, values and items in key order', async () => {
        expect(await store.keys()).toEqual(['USER:3', 'session:1', 'user:1', 'user:10', 'user:2', 'userA', 'user_x']);
        expect(await store.values()).toEqual([6, 9, 6, 7, 6, 5, 6]);
        expect((await store.items())[0]).toEqual(['USER:3', 6]);
      });

      it('lists by prefix as a case-sensitive key range, with no wildcards', async () => {
        expect(await store.keys({ prefix: 'user:' })).toEqual(['user:1', 'user:10', 'user:2']);
        expect(await store.keys({ prefix: 'user_' })).toEqual(['user_x']);
        expect(await store.keys({ prefix: 'user%' })).toEqual([]);
        expect(await store.values({ prefix: 'session' })).toEqual([9]);
        expect(await store.items({ prefix: 'zzz' })).toEqual([]);
      });

      it('handles prefixes ending in the highest code points', async () => {
        await store.set('a\u{10FFFF}b', 1);
        await store.set('a\uFFFFb', 2);
        await store.set('b', 3);
        expect(await store.keys({ prefix: 'a\u{10FFFF}' })).toEqual(['a\u{10FFFF}b']);
        expect(await store.keys({ prefix: 'a\uFFFF' })).toEqual(['a\uFFFFb']);
        expect(await store.keys({ prefix: 'a' })).toEqual(['a\uFFFFb', 'a\u{10FFFF}b']);
      });

      it('iterates lazily in batches, in key order, each key once', async () => {
        const all = await store.keys();
        for (const batchSize of [1, 2, 3, 256]) {
          expect((await collect(store.entries({ batchSize }))).map(([k]) => k)).toEqual(all);
        }
        expect((await collect(store.entries({ prefix: 'user:', batchSize: 1 }))).map(([k]) => k)).toEqual(['user:1', 'user:10', 'user:2']);
        expect(await collect(store.entries({ prefix: 'user:', batchSize: 2 }))).toEqual([
          ['user:1', 6],
          ['user:10', 7],
          ['user:2', 6],
        ]);
      });

      it('allows writes while iterating, visiting each key at most once', async () => {
        const seen: string[] = [];
        for await (const [key] of store.entries({ batchSize: 2 })) {
          seen.push(key);
          if (seen.length > 50) break; // an iterator that revisits keys would never end
          await store.set(`${key}!`, 0);
          if (key === 'user:1') await store.delete(key);
        }
        // A page resumes strictly after the last key of the one before (which is still there), so no key
        // is seen twice; a key written behind the cursor (USER:3!) is not seen, and one ahead of it is.
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual([
          'USER:3', 'session:1', 'session:1!', 'user:1', 'user:1!', 'user:10', 'user:10!',
          'user:2', 'user:2!', 'userA', 'userA!', 'user_x', 'user_x!',
        ]);
        expect(await store.has('user:1')).toBe(false);
      });

      it('refuses a bad batch size', async () => {
        expect(await codeOf(() => store.entries({ batchSize: 0 }))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await codeOf(() => store.entries({ batchSize: 1.5 }))).toBe('ERR_KV_INVALID_ARGUMENT');
      });

      it('clear removes a prefix, or everything, and counts what it removed', async () => {
        expect(await codeOf(() => store.clear({ prefix: undefined }))).toBe('ERR_KV_INVALID_ARGUMENT'); // never "everything" by accident
        expect(await store.clear({ prefix: 'user:' })).toBe(3);
        expect(await store.keys()).toEqual(['USER:3', 'session:1', 'userA', 'user_x']);
        expect(await store.clear({ prefix: 'nothing' })).toBe(0);
        expect(await store.clear()).toBe(4);
        expect(await store.size).toBe(0);
        expect(await store.keys()).toEqual([]);
      });

      it('clear with a prefix counts the expired rows it removed, and leaves other keys', async () => {
        await store.setMany({ 'p:1': 1, 'p:2': 2 }, 1);
        await store.set('p:3', 3);
        clock.advance(2);
        const n = await store.clear({ prefix: 'p:' });
        // Every live row, plus the expired ones no write has culled yet.
        expect(n).toBeGreaterThanOrEqual(1);
        expect(n).toBeLessThanOrEqual(3);
        expect(await store.keys({ prefix: 'p' })).toEqual([]);
        expect(await store.purgeExpired()).toBe(0);
        expect(await store.size).toBe(7);
      });
    });

    describe('code-point order', () => {
      const KEYS = ['A', 'B', '_', 'a', 'a b', 'b', 'é', '\u{10FFFF}', 'z\u{1F600}', 'z\uFFFF'];
      // Code-point (UTF-8 byte) order, not UTF-16 order: '\uFFFF' sorts before '\u{1F600}', whose
      // UTF-16 form starts with the surrogate 0xD83D; and no collation folds case or accents.
      const ORDER = ['A', 'B', '_', 'a', 'a b', 'b', 'z\uFFFF', 'z\u{1F600}', 'é', '\u{10FFFF}'];

      beforeEach(async () => {
        await store.setMany([...KEYS].reverse().map((k, i) => [k, i] as const));
      });

      it('is the order keys are listed in (and not the UTF-16 order)', async () => {
        expect([...KEYS].sort(byCodePoint)).toEqual(ORDER);
        expect([...KEYS].sort()).not.toEqual(ORDER); // the test would not tell the two orders apart otherwise
        expect(await store.keys()).toEqual(ORDER);
        expect((await store.items()).map(([k]) => k)).toEqual(ORDER);
      });

      it('pages in that order with every batch size, each key once', async () => {
        for (const batchSize of [1, 2, 3, 4, 9, 10, 11]) {
          expect((await collect(store.entries({ batchSize }))).map(([k]) => k)).toEqual(ORDER);
        }
      });

      it('selects prefixes in that order', async () => {
        expect(await store.keys({ prefix: 'z' })).toEqual(['z\uFFFF', 'z\u{1F600}']);
        expect((await collect(store.entries({ prefix: 'z', batchSize: 1 }))).map(([k]) => k)).toEqual(['z\uFFFF', 'z\u{1F600}']);
        expect(await store.keys({ prefix: 'z\uFFFF' })).toEqual(['z\uFFFF']);
        expect(await store.keys({ prefix: 'z\u{1F600}' })).toEqual(['z\u{1F600}']);
        expect(await store.keys({ prefix: 'a' })).toEqual(['a', 'a b']);
        expect(await store.keys({ prefix: 'A' })).toEqual(['A']);
        expect(await store.keys({ prefix: '\u{10FFFF}' })).toEqual(['\u{10FFFF}']);
        expect(await store.keys({ prefix: 'e' })).toEqual([]); // é is not e
      });
    });

    describe('transaction', () => {
      it('commits what the callback wrote, and returns its result', async () => {
        const result = await runTransaction(backend, store, function* (s) {
          yield s.set('a', 1);
          yield s.incr('n');
          return 'done';
        });
        expect(result).toBe('done');
        expect(await store.get('a')).toBe(1);
        expect(await store.get('n')).toBe(1);
      });

      it('gives the callback a store that sees its own writes', async () => {
        await store.set('k', 'before');
        const seen = await runTransaction(backend, store, function* (s) {
          yield s.set('k', 'inside');
          yield s.delete('gone');
          return [yield s.get('k'), yield s.keys(), yield s.size];
        });
        expect(seen).toEqual(['inside', ['k'], 1]);
      });

      it('rolls back everything when the callback throws, and rethrows its error', async () => {
        await store.set('a', 'before');
        const boom = new Error('boom');
        const err = await failure(() =>
          runTransaction(backend, store, function* (s) {
            yield s.set('a', 'after');
            yield s.set('b', 1);
            yield s.incr('n');
            throw boom;
          }),
        );
        expect(err).toBe(boom);
        expect(await store.get('a')).toBe('before');
        expect(await store.has('b')).toBe(false);
        expect(await store.has('n')).toBe(false);
      });

      it('rolls back a nested transaction alone when it throws', async () => {
        const result = await runTransaction(backend, store, function* (s) {
          yield s.set('outer', 1);
          try {
            yield runTransaction(backend, s, function* (inner) {
              yield inner.set('inner', 2);
              throw new Error('inner');
            });
          } catch (err) {
            expect((err as Error).message).toBe('inner');
          }
          yield runTransaction(backend, s, function* (inner) {
            yield inner.set('kept', 3);
          });
          return yield s.keys();
        });
        expect(result).toEqual(['kept', 'outer']);
        expect(await store.keys()).toEqual(['kept', 'outer']);
      });

      it('refuses a callback that is not a function', async () => {
        const transaction = store.transaction.bind(store) as (fn: unknown) => unknown;
        expect(await codeOf(() => transaction('nope'))).toBe('ERR_KV_INVALID_ARGUMENT');
      });

      if (backend.mode === 'sync') {
        it('refuses an async callback and rolls back its synchronous part', async () => {
          const transaction = store.transaction.bind(store) as (fn: () => unknown) => unknown;
          const err = await failure(() =>
            transaction(async () => {
              await store.set('early', 1);
              await Promise.resolve();
            }),
          );
          expect(err.code).toBe('ERR_KV_INVALID_ARGUMENT');
          expect(await store.has('early')).toBe(false);
        });
      } else {
        it('keeps writes made after an await inside the callback, and rolls them back on a rejection', async () => {
          const transaction = store.transaction.bind(store) as (fn: (s: ContractStore) => Promise<unknown>) => Promise<unknown>;
          await transaction(async (s) => {
            await s.set('early', 1);
            await new Promise((resolve) => setImmediate(resolve));
            await s.set('late', 2);
          });
          expect(await store.keys()).toEqual(['early', 'late']);
          await expect(
            transaction(async (s) => {
              await s.clear();
              await new Promise((resolve) => setImmediate(resolve));
              throw new Error('late failure');
            }),
          ).rejects.toThrow('late failure');
          expect(await store.keys()).toEqual(['early', 'late']);
        });
      }
    });

    describe('close', () => {
      it('makes every later call an ERR_KV_CLOSED error, and closing twice is fine', async () => {
        await store.set('k', 1);
        await store.close();
        expect(store.closed).toBe(true);
        await store.close();
        const calls: [string, () => unknown][] = [
          ['get', () => store.get('k')],
          ['set', () => store.set('k', 2)],
          ['add', () => store.add('k', 2)],
          ['has', () => store.has('k')],
          ['delete', () => store.delete('k')],
          ['pop', () => store.pop('k')],
          ['touch', () => store.touch('k', 1)],
          ['ttl', () => store.ttl('k')],
          ['incr', () => store.incr('n')],
          ['decr', () => store.decr('n')],
          ['getMany', () => store.getMany(['k'])],
          ['setMany', () => store.setMany({ k: 2 })],
          ['keys', () => store.keys()],
          ['values', () => store.values()],
          ['items', () => store.items()],
          ['entries', () => store.entries()],
          ['size', () => store.size],
          ['clear', () => store.clear()],
          ['purgeExpired', () => store.purgeExpired()],
          ['transaction', () => runTransaction(backend, store, function* () {})],
        ];
        for (const [name, call] of calls) expect([name, await codeOf(call)]).toEqual([name, 'ERR_KV_CLOSED']);
      });

      it('stops an open iterator with ERR_KV_CLOSED', async () => {
        await store.setMany([
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ]);
        const it = store.entries({ batchSize: 1 });
        expect((await it.next()).value).toEqual(['a', 1]);
        await store.close();
        expect(await codeOf(() => it.next())).toBe('ERR_KV_CLOSED');
      });
    });

    describe('values', () => {
      const nested = (depth: number): unknown => (depth === 0 ? { leaf: 'ok', n: [1, 2.5, null] } : { depth, child: nested(depth - 1), list: [depth] });
      const VALUES: [string, unknown][] = [
        ['an object, in its key order', { b: 1, a: 2, long_key: 3, c: 4 }],
        ['NUL inside strings and keys of a value', { 'k\u0000': 'a\u0000b', list: ['\u0000', 'x\u0000\u0000y'], s: '\u0000\u0001\u001f\u007f' }],
        ['a string that is only NUL', '\u0000'],
        ['unicode text', 'ключ 🔑 日本語 \u200d👩‍👩‍👧 e\u0301 \u{10FFFF} \uFFFF \u2028\u2029 "quoted" \\back'],
        ['numbers at the edges', [0.30000000000000004, -1.5e-300, 5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1.7976931348623157e308, -0.5]],
        ['scalars and empties', [true, false, null, '', [], {}, 0]],
        ['a deep nesting', nested(200)],
        ['a wide object', Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${(i * 7919) % 2000}`, { i, s: `v${i}` }]))],
        ['a long string', 'x'.repeat(100_000) + 'é' + '🔑'.repeat(10_000)],
      ];

      it.each(VALUES)('round-trips %s exactly', async (_what, value) => {
        await store.set('v', value);
        const back = await store.get('v');
        expect(back).toEqual(value);
        expect(JSON.stringify(back)).toBe(JSON.stringify(value)); // the same key order, too
        // And through the other reads.
        expect(JSON.stringify((await store.getMany(['v'])).get('v'))).toBe(JSON.stringify(value));
        expect(JSON.stringify(await store.values())).toBe(JSON.stringify([value]));
        expect(JSON.stringify(await store.pop('v'))).toBe(JSON.stringify(value));
      });

      it('round-trips the same values through setMany and entries()', async () => {
        await store.setMany(VALUES.map(([what, value]) => [what, value] as const));
        const back = new Map(await collect(store.entries({ batchSize: 2 })));
        for (const [what, value] of VALUES) expect([what, JSON.stringify(back.get(what))]).toEqual([what, JSON.stringify(value)]);
      });

      it('stores -0 as 0 and leaves undefined properties out (JSON)', async () => {
        await store.set('z', { n: -0, gone: undefined });
        const back = (await store.get('z')) as { n: number };
        expect(Object.is(back.n, 0)).toBe(true);
        expect(Object.keys(back)).toEqual(['n']);
      });

      it('round-trips what JSON cannot hold with the v8 serializer: Map, Date, BigInt, Set, bytes', async () => {
        await withStore({ serializer: 'v8' }, async (s) => {
          const value = {
            map: new Map<unknown, unknown>([
              ['a', 1],
              [2, { b: [3n] }],
            ]),
            date: new Date(Date.UTC(2030, 0, 1, 12, 30)),
            big: -(2n ** 100n),
            set: new Set(['x', 'y']),
            bytes: new Uint8Array([0, 1, 255]),
            text: 'a\u0000b',
            missing: undefined,
            nan: NaN,
          };
          await s.set('v', value);
          const back = (await s.get('v')) as typeof value;
          expect(back).toEqual(value);
          // By tag, not instanceof: v8.deserialize builds its objects in Node's realm, not in jest's sandbox.
          const tag = (v: unknown) => Object.prototype.toString.call(v);
          expect([tag(back.map), tag(back.date), tag(back.set), tag(back.bytes)]).toEqual(['[object Map]', '[object Date]', '[object Set]', '[object Uint8Array]']);
          expect(back.date.getTime()).toBe(value.date.getTime());
          expect(typeof back.big).toBe('bigint');
          expect(back.big).toBe(value.big);
          expect('missing' in back).toBe(true);
          await s.set('top', 12345678901234567890n);
          expect(await s.get('top')).toBe(12345678901234567890n);
          expect(await s.incr('n', 2)).toBe(2);
        });
      });

      const decoder = new TextDecoder();
      const what = backend.differences.customStringSerializerGetsBytes ? 'its UTF-8 bytes' : 'the string';
      it(`gives a custom serializer that writes strings ${what} back (declared: customStringSerializerGetsBytes)`, async () => {
        const given: unknown[] = [];
        const serializer = {
          name: 'tagged-text',
          serialize: (v: unknown) => `T${JSON.stringify(v)}`,
          deserialize: (data: string | Uint8Array) => {
            given.push(data);
            const text = typeof data === 'string' ? data : decoder.decode(data);
            if (!text.startsWith('T')) throw new Error(`not tagged: ${text}`);
            return JSON.parse(text.slice(1)) as unknown;
          },
        };
        await withStore({ serializer }, async (s) => {
          await s.set('k', { é: 'ü\u0000', n: 1 });
          expect(await s.get('k')).toEqual({ é: 'ü\u0000', n: 1 });
          expect(await s.incr('c', 0.5)).toBe(0.5);
        });
        expect(given.length).toBeGreaterThan(0);
        for (const data of given) {
          if (backend.differences.customStringSerializerGetsBytes) expect(data).toBeInstanceOf(Uint8Array);
          else expect(typeof data).toBe('string');
        }
        const first = given[0] as string | Uint8Array;
        expect(typeof first === 'string' ? first : decoder.decode(first)).toBe('T{"é":"ü\\u0000","n":1}');
      });

      const nulText = backend.differences.nulInTextValues;
      it(`${nulText ? 'stores' : 'refuses, with ERR_KV_INVALID_VALUE and nothing written,'} a serializer's text holding U+0000 (declared: nulInTextValues)`, async () => {
        const serializer = { name: 'raw-text', serialize: (v: unknown) => String(v), deserialize: (data: string | Uint8Array) => (typeof data === 'string' ? data : decoder.decode(data)) };
        await withStore({ serializer }, async (s) => {
          await s.set('k', 'before');
          if (nulText) {
            await s.set('k', 'a\u0000b');
            expect(await s.get('k')).toBe('a\u0000b');
          } else {
            expect((await failure(() => s.set('k', 'a\u0000b'))).code).toBe('ERR_KV_INVALID_VALUE');
            expect(await s.get('k')).toBe('before');
          }
        });
      });

      it('gives a custom serializer that writes bytes the same bytes back', async () => {
        const serializer = {
          name: 'raw-bytes',
          serialize: (v: unknown) => Uint8Array.from(v as number[]),
          deserialize: (data: string | Uint8Array) => {
            if (!(data instanceof Uint8Array)) throw new Error(`expected bytes, got ${typeof data}`);
            return [...data];
          },
        };
        await withStore({ serializer }, async (s) => {
          const bytes = [0, 1, 2, 127, 128, 200, 255, 0];
          await s.set('b', bytes);
          await s.set('empty', []);
          expect(await s.get('b')).toEqual(bytes);
          expect(await s.get('empty')).toEqual([]);
        });
      });
    });
  });
}
