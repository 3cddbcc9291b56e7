/**
 * Tags, size limits with eviction, and statistics, on every backend. Each
 * test opens its own store on a FakeClock: times order the eviction
 * policies, and no test sleeps.
 */
import { type MemoStore, scache } from '../../src';
import { FakeClock, counted } from '../helpers';
import type { Backend, ContractStore, OpenStoreOptions } from './backends';
import { codeOf, failure } from './support';

export function describeUpkeepContract(backend: Backend): void {
  describe('tags, limits and statistics', () => {
    let clock: FakeClock;
    const opened: ContractStore[] = [];
    const open = async (options: Omit<OpenStoreOptions, 'clock'> = {}): Promise<ContractStore> => {
      const store = await backend.openStore({ clock, ...options });
      opened.push(store);
      return store;
    };
    /** Writes `keys` one millisecond apart, so the least recently stored is the first. */
    const writeInOrder = async (store: ContractStore, keys: string[], value: unknown = 'v'): Promise<void> => {
      for (const key of keys) {
        clock.advance(1);
        await store.set(key, value);
      }
    };
    beforeEach(() => {
      clock = new FakeClock();
    });
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    describe('tags', () => {
      it('invalidates every entry of a tag at once, and nothing else', async () => {
        const store = await open();
        await store.set('u:1', 1, { tags: ['users', 'team:a'] });
        await store.set('u:2', 2, { tags: ['users'] });
        await store.set('p:1', 3, { tags: ['posts'] });
        await store.set('plain', 4);
        expect(await store.tagsOf('u:1')).toEqual(['team:a', 'users']);
        expect(await store.tagsOf('plain')).toEqual([]);
        expect(await store.tagsOf('missing')).toBeUndefined();
        expect(await store.invalidateTag('users')).toBe(2);
        expect((await store.keys()).sort()).toEqual(['p:1', 'plain']);
        expect(await store.invalidateTag('users')).toBe(0);
        expect(await store.invalidateTag('team:a')).toBe(0);
      });

      it('a write replaces the tags; incr, decr and touch keep them; add and setMany take them', async () => {
        const store = await open();
        await store.set('k', 1, { tags: ['a'] });
        await store.set('k', 2, { ttl: 60, tags: ['b'] });
        expect(await store.tagsOf('k')).toEqual(['b']);
        expect(await store.ttl('k')).toBe(60);
        await store.incr('k');
        await store.decr('k', 2);
        expect(await store.touch('k', 120)).toBe(true);
        expect(await store.tagsOf('k')).toEqual(['b']);
        expect(await store.get('k')).toBe(1);
        await store.set('k', 3);
        expect(await store.tagsOf('k')).toEqual([]);
        expect(await store.add('n', 1, { tags: ['b'] })).toBe(true);
        expect(await store.add('n', 2, { tags: ['c'] })).toBe(false);
        await store.setMany({ m1: 1, m2: 2 }, { ttl: 30, tags: ['many', 'b'] });
        expect(await store.tagsOf('m2')).toEqual(['b', 'many']);
        expect(await store.ttl('m1')).toBe(30);
        expect(await store.invalidateTag('b')).toBe(3);
        expect(await store.keys()).toEqual(['k']);
      });

      it('pop, delete, clear and expiry leave no tag behind', async () => {
        const store = await open();
        for (const key of ['popped', 'deleted', 'cleared', 'expired']) await store.set(key, 1, { ttl: key === 'expired' ? 1 : null, tags: ['t'] });
        await store.pop('popped');
        await store.delete('deleted');
        await store.clear({ prefix: 'clea' });
        clock.advance(1001);
        expect(await store.purgeExpired()).toBe(1);
        // The same keys written again without tags: a leftover tag row would make the invalidation take them.
        for (const key of ['popped', 'deleted', 'cleared', 'expired']) await store.set(key, 2);
        expect(await store.invalidateTag('t')).toBe(0);
        expect(await store.size).toBe(4);
      });

      it('scache tags its results, fixed or from the arguments, and invalidateTag recomputes them', async () => {
        const store = await open();
        const memo = store as unknown as MemoStore;
        const user = counted((id: number) => ({ id }));
        const cached = scache({ store: memo, name: 'user', tags: (id: number) => ['users', `user:${id}`] })(user);
        const post = counted((id: number) => ({ id }));
        const posts = scache({ store: memo, name: 'post', tags: ['posts'] })(post);
        await cached(1);
        await cached(2);
        await posts(1);
        expect(await store.tagsOf(cached.keyFor(1))).toEqual(['user:1', 'users']);
        expect(await store.invalidateTag('user:1')).toBe(1);
        await cached(1);
        await cached(2);
        expect(user.calls).toBe(3);
        expect(await store.invalidateTag('users')).toBe(2);
        expect(await store.tagsOf(posts.keyFor(1))).toEqual(['posts']);
        expect(() => scache({ store: memo, tags: 'users' as never })).toThrow(expect.objectContaining({ code: 'ERR_KV_INVALID_OPTION' }));
      });

      it('takes an absolute expiry in epoch milliseconds (expiresAt), kept to the millisecond', async () => {
        const store = await open();
        await store.set('k', 1, { expiresAt: clock.now() + 1234 });
        expect(await store.ttl('k')).toBe(1.234);
        await store.setMany({ a: 1 }, { expiresAt: clock.now() + 1 });
        clock.advance(0.001); // one millisecond
        expect(await store.has('a')).toBe(false);
        expect(await codeOf(() => store.set('k', 1, { ttl: 5, expiresAt: clock.now() + 5 }))).toBe('ERR_KV_INVALID_TTL');
        expect(await codeOf(() => store.set('k', 1, { expiresAt: clock.now() }))).toBe('ERR_KV_INVALID_TTL');
        expect(await codeOf(() => store.set('k', 1, { expiresAt: 1.5 }))).toBe('ERR_KV_INVALID_TTL');
        expect(await store.ttl('k')).toBe(1.233);
      });

      it('refuses tags that are not non-empty strings, too many tags, and unknown write options (as a bad TTL)', async () => {
        const store = await open();
        expect(await codeOf(() => store.set('k', 1, { tags: [''] }))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await codeOf(() => store.set('k', 1, { tags: [1 as unknown as string] }))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await codeOf(() => store.set('k', 1, { tags: 'abc' as unknown as string[] }))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await codeOf(() => store.set('k', 1, { tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await codeOf(() => store.set('k', 1, { ttl: 5, tag: 'x' } as never))).toBe('ERR_KV_INVALID_TTL');
        expect(await codeOf(() => store.invalidateTag(''))).toBe('ERR_KV_INVALID_ARGUMENT');
        expect(await store.has('k')).toBe(false);
        // Duplicates are one tag.
        await store.set('k', 1, { tags: ['x', 'x', 'y'] });
        expect(await store.tagsOf('k')).toEqual(['x', 'y']);
      });
    });

    describe('limits', () => {
      it('lrs: keeps the most recently stored entries within maxEntries, counting evictions', async () => {
        const store = await open({ limits: { maxEntries: 4 } });
        await writeInOrder(store, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
        expect((await store.keys()).sort()).toEqual(['d', 'e', 'f', 'g']);
        const stats = await store.stats();
        expect(stats).toMatchObject({ evictions: 3, entries: 4, sets: 7, limits: { maxEntries: 4, maxBytes: null, eviction: 'lrs' } });
      });

      it('keeps the bytes of keys and values within maxBytes after every write', async () => {
        const store = await open({ limits: { maxBytes: 100 } });
        for (let i = 0; i < 30; i++) {
          clock.advance(1);
          await store.set(`k${i}`, 'x'.repeat(i % 7)); // 2-3 bytes of key, 2-8 of JSON
          expect((await store.stats()).bytes).toBeLessThanOrEqual(100);
        }
        expect(await store.has('k29')).toBe(true);
        expect(await store.has('k0')).toBe(false);
      });

      it('evicts expired entries before live ones', async () => {
        const store = await open({ limits: { maxEntries: 3 } });
        await writeInOrder(store, ['old']);
        clock.advance(1);
        await store.set('short', 1, 1);
        clock.advance(2000);
        await writeInOrder(store, ['c', 'd']);
        expect((await store.keys()).sort()).toEqual(['c', 'd', 'old']);
        expect(await store.stats()).toMatchObject({ expirations: 1, evictions: 0 });
      });

      it('lru: an entry read since it was stored outlives one stored later but never read', async () => {
        const store = await open({ limits: { maxEntries: 3, eviction: 'lru' } });
        await writeInOrder(store, ['a', 'b', 'c']);
        clock.advance(1);
        expect(await store.get('a')).toBe('v'); // recorded in memory, folded into the next write
        await writeInOrder(store, ['d']);
        expect((await store.keys()).sort()).toEqual(['a', 'c', 'd']);
      });

      it('lfu: the least read entry goes first', async () => {
        const store = await open({ limits: { maxEntries: 3, eviction: 'lfu' } });
        await writeInOrder(store, ['a', 'b', 'c']);
        for (let i = 0; i < 3; i++) await store.get('a');
        await store.getMany(['b', 'c', 'c']);
        await writeInOrder(store, ['d']); // folds the reads in: a 3, c 2, b 1
        await writeInOrder(store, ['e']); // d has no reads yet: it goes
        expect((await store.keys()).sort()).toEqual(['a', 'c', 'e']);
      });

      it("eviction 'none': a write that would overfill the store is ERR_KV_FULL and writes nothing", async () => {
        const store = await open({ limits: { maxEntries: 2, eviction: 'none' } });
        await store.set('a', 1);
        await store.set('b', 2, { tags: ['t'] });
        const err = await failure(() => store.set('c', 3, { tags: ['t'] }));
        expect(err.code).toBe('ERR_KV_FULL');
        expect(err.message).toMatch(/nothing was written/);
        expect(await codeOf(() => store.setMany({ c: 3, d: 4 }))).toBe('ERR_KV_FULL');
        expect(await codeOf(() => store.incr('counter'))).toBe('ERR_KV_FULL');
        expect((await store.keys()).sort()).toEqual(['a', 'b']);
        // Replacing an entry does not grow the count, and a delete makes room.
        await store.set('a', 10);
        await store.delete('a');
        await store.set('c', 3, { tags: ['t'] });
        expect(await store.invalidateTag('t')).toBe(2);
        expect(await store.stats()).toMatchObject({ entries: 0, evictions: 0 });
      });

      it('records the limits with the store: reopening takes them, other limits are refused, setLimits changes them', async () => {
        const db = await backend.openDatabase();
        try {
          const first = await db.store('limited', { clock, limits: { maxEntries: 5, eviction: 'lfu' } });
          await first.close();
          const err = await failure(() => db.store('limited', { clock, limits: { maxEntries: 6 } }));
          expect(err.code).toBe('ERR_KV_LIMITS_MISMATCH');
          expect(err.message).toMatch(/maxEntries 5, eviction 'lfu'.*setLimits/);
          const again = await db.store('limited', { clock });
          expect((await again.stats()).limits).toEqual({ maxBytes: null, maxEntries: 5, eviction: 'lfu' });
          expect((await db.stores()).find((s) => s.name === 'limited')?.limits).toEqual({ maxBytes: null, maxEntries: 5, eviction: 'lfu' });
          await again.setLimits({ maxEntries: 2 });
          expect((await again.stats()).limits).toEqual({ maxBytes: null, maxEntries: 2, eviction: 'lrs' });
          await writeInOrder(again, ['a', 'b', 'c']);
          expect(await again.keys()).toEqual(['b', 'c']);
          await again.setLimits(null);
          await writeInOrder(again, ['d', 'e']);
          expect(await again.size).toBe(4);
          expect((await again.stats()).limits).toBeNull();
          await again.close();
        } finally {
          await db.close();
        }
      });

      it('refuses limits that are not positive whole numbers or a known policy', async () => {
        const store = await open();
        for (const limits of [{ maxEntries: 0 }, { maxBytes: 1.5 }, { maxEntries: 3, eviction: 'fifo' }, {}, { maxEntries: 3, max: 1 }, 'big']) {
          expect(await codeOf(() => store.setLimits(limits as never))).toBe('ERR_KV_INVALID_OPTION');
        }
        expect(await codeOf(() => backend.openStore({ clock, limits: { maxEntries: -1 } }))).toBe('ERR_KV_INVALID_OPTION');
        expect((await store.stats()).limits).toBeNull();
      });
    });

    describe('statistics', () => {
      it('counts hits, misses, sets and deletes per handle, and resets them', async () => {
        const store = await open();
        await store.set('a', 1);
        await store.setMany({ b: 2, c: 3 });
        await store.get('a');
        await store.get('nope');
        await store.getMany(['a', 'b', 'zz']);
        await store.incr('n');
        await store.delete('a');
        await store.delete('a');
        await store.pop('b');
        expect(await store.stats()).toMatchObject({ hits: 3, misses: 2, sets: 4, deletes: 2, evictions: 0, expirations: 0, entries: 2 });
        expect((await store.stats()).bytes).toBeGreaterThan(0);
        await store.resetStats();
        expect(await store.stats()).toMatchObject({ hits: 0, misses: 0, sets: 0, deletes: 0 });
      });

      it("stats: 'persisted' adds every handle's counts to the database's, folded into writes", async () => {
        const db = await backend.openDatabase();
        try {
          const writer = await db.store('shared', { clock, stats: 'persisted' });
          await writer.set('a', 1);
          await writer.get('a');
          await writer.get('nope');
          await writer.set('b', 2); // folds the reads' counts in
          await writer.close(); // folds in the rest
          const reader = await db.store('shared', { clock, stats: 'persisted' });
          expect(await reader.stats()).toMatchObject({ hits: 1, misses: 1, sets: 2 });
          await reader.get('b');
          expect((await reader.stats()).hits).toBe(2); // this handle's unflushed hit included
          await reader.resetStats();
          expect(await reader.stats()).toMatchObject({ hits: 0, misses: 0, sets: 0 });
          await reader.close();
        } finally {
          await db.close();
        }
      });
    });
  });
}
