/**
 * The behaviour every store implementation must have, whatever its engine.
 * Run it with a factory that opens a fresh, empty store on a given clock.
 */
import { FakeClock, thrown } from '../helpers';

/** The part of the store API the contract exercises. */
export interface ContractStore {
  get(key: string, defaultValue?: unknown): unknown;
  set(key: string, value: unknown, ttl?: number | null): void;
  add(key: string, value: unknown, ttl?: number | null): boolean;
  has(key: string): boolean;
  delete(key: string): boolean;
  pop(key: string, defaultValue?: unknown): unknown;
  touch(key: string, ttl: number | null | undefined): boolean;
  ttl(key: string): number | undefined;
  incr(key: string, by?: number): number;
  decr(key: string, by?: number): number;
  getMany(keys: Iterable<string>): Map<string, unknown>;
  setMany(entries: Iterable<readonly [string, unknown]> | Record<string, unknown>, ttl?: number | null): void;
  keys(options?: { prefix?: string }): string[];
  values(options?: { prefix?: string }): unknown[];
  items(options?: { prefix?: string }): [string, unknown][];
  entries(options?: { prefix?: string; batchSize?: number }): IterableIterator<[string, unknown]>;
  [Symbol.iterator](): IterableIterator<[string, unknown]>;
  readonly size: number;
  clear(options?: { prefix?: string }): number;
  purgeExpired(): number;
  transaction<T>(fn: () => T): T;
  close(): void;
  readonly closed: boolean;
}

export function describeStoreContract(label: string, open: (clock: FakeClock) => ContractStore): void {
  describe(`store contract: ${label}`, () => {
    let clock: FakeClock;
    let store: ContractStore;
    beforeEach(() => {
      clock = new FakeClock();
      store = open(clock);
    });
    afterEach(() => store.close());

    describe('get / set', () => {
      it('round-trips JSON values', () => {
        const value = { name: 'Alice', age: 30, tags: ['a', 'b'], nested: { ok: true, none: null } };
        store.set('user:1', value);
        expect(store.get('user:1')).toEqual(value);
      });

      it('returns undefined, or the default, for a missing key', () => {
        expect(store.get('nope')).toBeUndefined();
        expect(store.get('nope', 0)).toBe(0);
      });

      it('treats a stored null as a value, not a miss', () => {
        store.set('n', null);
        expect(store.get('n', 'default')).toBeNull();
        expect(store.has('n')).toBe(true);
      });

      it('replaces the previous value', () => {
        store.set('k', 1);
        store.set('k', 'two');
        expect(store.get('k')).toBe('two');
        expect(store.size).toBe(1);
      });

      it('keeps the empty key and unicode keys apart', () => {
        store.set('', 'empty');
        store.set('ключ-🔑', 'unicode');
        store.set('caf\u00e9', 'nfc');
        store.set('cafe\u0301', 'nfd');
        expect(store.get('')).toBe('empty');
        expect(store.get('ключ-🔑')).toBe('unicode');
        expect(store.get('caf\u00e9')).toBe('nfc');
        expect(store.get('cafe\u0301')).toBe('nfd');
      });

      it('refuses a key that is not a string', () => {
        const err = thrown(() => store.set(42 as unknown as string, 1));
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_KV_INVALID_KEY');
        expect(thrown(() => store.get(undefined as unknown as string)).code).toBe('ERR_KV_INVALID_KEY');
      });

      it('refuses a key with a lone surrogate, which SQLite would store as U+FFFD', () => {
        expect(thrown(() => store.set('a\ud800', 1)).code).toBe('ERR_KV_INVALID_KEY');
        expect(store.size).toBe(0);
      });
    });

    describe('TTL', () => {
      it('expires entries after ttl seconds', () => {
        store.set('k', 'v', 10);
        clock.advance(9.999);
        expect(store.get('k')).toBe('v');
        clock.advance(0.001);
        expect(store.get('k', 'gone')).toBe('gone');
      });

      it('accepts fractional seconds', () => {
        store.set('k', 'v', 0.25);
        clock.advance(0.2);
        expect(store.has('k')).toBe(true);
        clock.advance(0.05);
        expect(store.has('k')).toBe(false);
      });

      it('treats null and Infinity as no expiry', () => {
        store.set('a', 1, null);
        store.set('b', 2, Infinity);
        clock.advance(1e9);
        expect(store.get('a')).toBe(1);
        expect(store.ttl('b')).toBe(Infinity);
      });

      it.each([0, -1, NaN, -Infinity])('refuses ttl %p with a RangeError and writes nothing', (ttl) => {
        const err = thrown(() => store.set('k', 1, ttl));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.code).toBe('ERR_KV_INVALID_TTL');
        expect(store.has('k')).toBe(false);
      });

      it('refuses a ttl that is not a number with a TypeError', () => {
        const err = thrown(() => store.set('k', 1, '10' as unknown as number));
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_KV_INVALID_TTL');
      });

      it('hides expired entries from every read', () => {
        store.set('live', 1);
        store.set('dead', 2, 1);
        clock.advance(2);
        expect(store.has('dead')).toBe(false);
        expect(store.keys()).toEqual(['live']);
        expect(store.values()).toEqual([1]);
        expect(store.items()).toEqual([['live', 1]]);
        expect([...store]).toEqual([['live', 1]]);
        expect(store.size).toBe(1);
        expect(store.ttl('dead')).toBeUndefined();
        expect(store.getMany(['live', 'dead'])).toEqual(new Map([['live', 1]]));
        expect(store.pop('dead', 'none')).toBe('none');
      });

      it('reports the remaining ttl in seconds', () => {
        store.set('k', 1, 100);
        clock.advance(40);
        expect(store.ttl('k')).toBeCloseTo(60);
        expect(store.ttl('missing')).toBeUndefined();
      });

      it('touch gives a live entry a new ttl, and can remove it', () => {
        store.set('k', 1, 10);
        clock.advance(5);
        expect(store.touch('k', 100)).toBe(true);
        clock.advance(50);
        expect(store.get('k')).toBe(1);
        expect(store.touch('k', null)).toBe(true);
        expect(store.ttl('k')).toBe(Infinity);
        expect(store.touch('missing', 10)).toBe(false);
      });

      it('touch does not revive an expired entry', () => {
        store.set('k', 1, 1);
        clock.advance(2);
        expect(store.touch('k', 100)).toBe(false);
        expect(store.has('k')).toBe(false);
      });

      it('purgeExpired deletes exactly the expired rows and returns their count', () => {
        for (let i = 0; i < 2500; i++) store.set(`e${i}`, i, 1);
        store.set('keep', 'me', 1000);
        store.set('forever', 'me');
        clock.advance(2);
        expect(store.purgeExpired()).toBe(2500);
        expect(store.purgeExpired()).toBe(0);
        expect(store.keys()).toEqual(['forever', 'keep']);
      });
    });

    describe('add, delete, pop, has', () => {
      it('add stores only when the key is absent or expired', () => {
        expect(store.add('k', 1)).toBe(true);
        expect(store.add('k', 2)).toBe(false);
        expect(store.get('k')).toBe(1);
        store.set('t', 'old', 1);
        clock.advance(2);
        expect(store.add('t', 'new', 5)).toBe(true);
        expect(store.get('t')).toBe('new');
        expect(store.ttl('t')).toBeCloseTo(5);
      });

      it('delete reports whether a live key was removed', () => {
        store.set('k', 1);
        expect(store.delete('k')).toBe(true);
        expect(store.delete('k')).toBe(false);
        expect(store.get('k')).toBeUndefined();
      });

      it('pop removes and returns the value', () => {
        store.set('k', { a: 1 });
        expect(store.pop('k')).toEqual({ a: 1 });
        expect(store.pop('k', 'default')).toBe('default');
        expect(store.has('k')).toBe(false);
      });
    });

    describe('incr / decr', () => {
      it('counts from zero and keeps counting', () => {
        expect(store.incr('n')).toBe(1);
        expect(store.incr('n', 5)).toBe(6);
        expect(store.decr('n')).toBe(5);
        expect(store.decr('n', 10)).toBe(-5);
        expect(store.get('n')).toBe(-5);
      });

      it('keeps the expiry of an existing counter, and restarts an expired one', () => {
        store.set('n', 10, 10);
        expect(store.incr('n')).toBe(11);
        expect(store.ttl('n')).toBeCloseTo(10);
        clock.advance(11);
        expect(store.incr('n')).toBe(1);
        expect(store.ttl('n')).toBe(Infinity);
      });

      it('refuses a value that is not a number, changing nothing', () => {
        store.set('s', 'text');
        const err = thrown(() => store.incr('s'));
        expect(err.code).toBe('ERR_KV_NOT_A_NUMBER');
        expect(store.get('s')).toBe('text');
        expect(thrown(() => store.incr('n', NaN)).code).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(thrown(() => store.incr('n', '1' as unknown as number)).code).toBe('ERR_KV_INVALID_ARGUMENT');
      });
    });

    describe('getMany / setMany', () => {
      it('writes and reads many entries', () => {
        store.setMany([
          ['a', 1],
          ['b', { x: 2 }],
        ]);
        store.setMany({ c: 3 }, 10);
        expect(store.getMany(['a', 'b', 'c', 'missing'])).toEqual(
          new Map<string, unknown>([
            ['a', 1],
            ['b', { x: 2 }],
            ['c', 3],
          ]),
        );
        expect(store.ttl('c')).toBeCloseTo(10);
      });

      it('writes nothing when one value is refused', () => {
        const err = thrown(() =>
          store.setMany([
            ['good', 1],
            ['bad', () => 1],
          ]),
        );
        expect(err.code).toBe('ERR_KV_INVALID_VALUE');
        expect(store.size).toBe(0);
      });

      it('writes nothing when one key is refused', () => {
        const err = thrown(() =>
          store.setMany([
            ['good', 1],
            [7 as unknown as string, 2],
          ]),
        );
        expect(err.code).toBe('ERR_KV_INVALID_KEY');
        expect(store.size).toBe(0);
      });
    });

    describe('listing', () => {
      beforeEach(() => {
        for (const k of ['user:2', 'user:1', 'user_x', 'userA', 'session:1', 'user:10', 'USER:3']) store.set(k, k.length);
      });

      it('lists keys, values and items in key order', () => {
        expect(store.keys()).toEqual(['USER:3', 'session:1', 'user:1', 'user:10', 'user:2', 'userA', 'user_x']);
        expect(store.values()).toEqual([6, 9, 6, 7, 6, 5, 6]);
        expect(store.items()[0]).toEqual(['USER:3', 6]);
      });

      it('lists by prefix as a case-sensitive key range, with no wildcards', () => {
        expect(store.keys({ prefix: 'user:' })).toEqual(['user:1', 'user:10', 'user:2']);
        expect(store.keys({ prefix: 'user_' })).toEqual(['user_x']);
        expect(store.values({ prefix: 'session' })).toEqual([9]);
        expect(store.items({ prefix: 'zzz' })).toEqual([]);
      });

      it('handles prefixes ending in the highest code points', () => {
        store.set('a\u{10FFFF}b', 1);
        store.set('a\uFFFFb', 2);
        store.set('b', 3);
        expect(store.keys({ prefix: 'a\u{10FFFF}' })).toEqual(['a\u{10FFFF}b']);
        expect(store.keys({ prefix: 'a\uFFFF' })).toEqual(['a\uFFFFb']);
        expect(store.keys({ prefix: 'a' })).toEqual(['a\uFFFFb', 'a\u{10FFFF}b']);
      });

      it('iterates lazily in batches, in key order, each key once', () => {
        const seen = [...store.entries({ batchSize: 2 })].map(([k]) => k);
        expect(seen).toEqual(store.keys());
        expect([...store.entries({ prefix: 'user:', batchSize: 1 })].map(([k]) => k)).toEqual(['user:1', 'user:10', 'user:2']);
      });

      it('allows writes while iterating, visiting each key at most once', () => {
        const seen: string[] = [];
        for (const [key] of store.entries({ batchSize: 2 })) {
          seen.push(key);
          if (seen.length > 50) break; // an iterator that revisits keys would never end
          store.set(`${key}!`, 0);
          if (key === 'user:1') store.delete(key);
        }
        // A page resumes strictly after the last key of the one before (which is still there), so no key
        // is seen twice; a key written behind the cursor (USER:3!) is not seen, and one ahead of it is.
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual([
          'USER:3', 'session:1', 'session:1!', 'user:1', 'user:1!', 'user:10', 'user:10!',
          'user:2', 'user:2!', 'userA', 'userA!', 'user_x', 'user_x!',
        ]);
        expect(store.has('user:1')).toBe(false);
      });

      it('refuses a bad batch size', () => {
        expect(thrown(() => store.entries({ batchSize: 0 })).code).toBe('ERR_KV_INVALID_ARGUMENT');
      });

      it('clear removes a prefix, or everything, and counts what it removed', () => {
        expect(thrown(() => store.clear({ prefix: undefined })).code).toBe('ERR_KV_INVALID_ARGUMENT'); // never "everything" by accident
        expect(store.clear({ prefix: 'user:' })).toBe(3);
        expect(store.keys()).toEqual(['USER:3', 'session:1', 'userA', 'user_x']);
        expect(store.clear()).toBe(4);
        expect(store.size).toBe(0);
        expect(store.keys()).toEqual([]);
      });
    });

    describe('transaction', () => {
      it('commits what the callback wrote', () => {
        const result = store.transaction(() => {
          store.set('a', 1);
          store.incr('n');
          return 'done';
        });
        expect(result).toBe('done');
        expect(store.get('a')).toBe(1);
        expect(store.get('n')).toBe(1);
      });

      it('rolls back everything when the callback throws, and rethrows its error', () => {
        store.set('a', 'before');
        const boom = new Error('boom');
        expect(() =>
          store.transaction(() => {
            store.set('a', 'after');
            store.set('b', 1);
            throw boom;
          }),
        ).toThrow(boom);
        expect(store.get('a')).toBe('before');
        expect(store.has('b')).toBe(false);
      });

      it('refuses an async callback and rolls back its synchronous part', async () => {
        const err = thrown(() =>
          store.transaction(async () => {
            store.set('early', 1);
            await Promise.resolve();
          }),
        );
        expect(err.code).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(store.has('early')).toBe(false);
      });
    });

    describe('close', () => {
      it('makes every later call a clear error, and closing twice is fine', () => {
        store.set('k', 1);
        store.close();
        expect(store.closed).toBe(true);
        store.close();
        for (const call of [() => store.get('k'), () => store.set('k', 2), () => store.keys(), () => store.size]) {
          expect(thrown(call).code).toBe('ERR_KV_CLOSED');
        }
      });

      it('stops an open iterator with a clear error', () => {
        store.setMany([
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ]);
        const it = store.entries({ batchSize: 1 });
        expect(it.next().value).toEqual(['a', 1]);
        store.close();
        expect(thrown(() => it.next()).code).toBe('ERR_KV_CLOSED');
      });
    });
  });
}
