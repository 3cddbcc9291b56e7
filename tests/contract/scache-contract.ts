/**
 * scache on every backend: memoization, TTLs, `conditionalKey`, `keyFor`
 * and `clear()`. On a sync store a wrapped sync function returns its value;
 * on an async store every wrapper returns a promise (scache must await the
 * store), so the tests await every call and check which of the two it was.
 */
import { type MemoStore, scache } from '../../src';
import { FakeClock, counted } from '../helpers';
import type { Backend, ContractStore } from './backends';
import { failure, isThenable } from './support';

/** The store as scache's option takes it, typed as the sync kind: the tests await every result either way. */
const memo = (store: ContractStore): MemoStore => store as unknown as MemoStore;

export function describeScacheContract(backend: Backend): void {
  describe('scache contract', () => {
    let clock: FakeClock;
    let store: ContractStore;
    beforeEach(async () => {
      clock = new FakeClock();
      store = await backend.openStore({ clock });
    });
    afterEach(async () => {
      await store.close();
    });

    /** A call's result, checking it came back as the backend's mode says: a value on sync stores, a promise on async ones. */
    const result = async (value: unknown): Promise<unknown> => {
      expect(isThenable(value)).toBe(backend.mode === 'async');
      return value;
    };

    it('calls a sync function once per distinct arguments', async () => {
      const add = counted((a: number, b: number) => ({ sum: a + b }));
      const cached = scache({ store: memo(store) })(add);
      expect(await result(cached(1, 2))).toEqual({ sum: 3 });
      expect(await result(cached(1, 2))).toEqual({ sum: 3 });
      expect(add.calls).toBe(1);
      expect(await result(cached(2, 1))).toEqual({ sum: 3 });
      expect(add.calls).toBe(2);
    });

    it('caches the resolved value of an async function, and shares a call in flight', async () => {
      const load = counted(async (id: string) => ({ id, at: clock.now() }));
      const cached = scache({ store: memo(store), name: 'load' })(load);
      const [a, b] = await Promise.all([cached('x'), cached('x')]);
      expect(a).toEqual({ id: 'x', at: clock.now() });
      expect(b).toEqual(a);
      const again = cached('x');
      expect(isThenable(again)).toBe(true);
      expect(await again).toEqual(a);
      expect(load.calls).toBe(1);
    });

    it('caches null and undefined results', async () => {
      const nothing = counted((x: number): null | undefined => (x > 0 ? null : undefined));
      const cached = scache({ store: memo(store), name: 'nothing' })(nothing);
      expect(await result(cached(1))).toBeNull();
      expect(await result(cached(1))).toBeNull();
      expect(await result(cached(0))).toBeUndefined();
      expect(await result(cached(0))).toBeUndefined();
      expect(nothing.calls).toBe(2);
    });

    it('does not cache a thrown error', async () => {
      let fail = true;
      const flaky = counted(() => {
        if (fail) throw new Error('down');
        return 'up';
      });
      const cached = scache({ store: memo(store), name: 'flaky' })(flaky);
      expect((await failure(() => cached())).message).toBe('down');
      fail = false;
      expect(await result(cached())).toBe('up');
      expect(await result(cached())).toBe('up');
      expect(flaky.calls).toBe(2);
    });

    it('expires results after ttl seconds, on the store clock', async () => {
      const now = counted(() => clock.now());
      const cached = scache({ store: memo(store), ttl: 10, name: 'now' })(now);
      const first = await result(cached());
      clock.advance(9);
      expect(await result(cached())).toBe(first);
      clock.advance(2);
      expect(await result(cached())).not.toBe(first);
      expect(now.calls).toBe(2);
      expect(await store.ttl(cached.keyFor())).toBeCloseTo(10);
    });

    it('conditionalKey switches caching off while it holds false or 0, and on otherwise', async () => {
      const load = counted((id: number) => ({ id }));
      const cached = scache({ store: memo(store), conditionalKey: 'enable_cache', name: 'load' })(load);
      await store.set('enable_cache', false);
      expect(await result(cached(1))).toEqual({ id: 1 });
      expect(await result(cached(1))).toEqual({ id: 1 });
      expect(load.calls).toBe(2);
      expect(await store.has(cached.keyFor(1))).toBe(false); // nothing written while off
      await store.set('enable_cache', 0);
      await result(cached(1));
      expect(load.calls).toBe(3);
      await store.set('enable_cache', true);
      await result(cached(1));
      await result(cached(1));
      expect(load.calls).toBe(4);
      await store.delete('enable_cache'); // missing: on
      await result(cached(1));
      expect(load.calls).toBe(4);
    });

    it('keyFor names the entry a call writes, and clear() removes only that function’s entries', async () => {
      const add = scache({ store: memo(store), name: 'add' })((x: number) => x + 1);
      const addx = scache({ store: memo(store), name: 'addx' })((x: number) => x + 100);
      await result(add(1));
      await result(add(2));
      await result(addx(1));
      const key = add.keyFor(1);
      expect(key).toMatch(/^scache:add:[0-9a-f]{64}$/);
      expect(add.keyFor(1)).toBe(key);
      expect(add.keyFor(2)).not.toBe(key);
      expect(addx.keyFor(1)).not.toBe(key);
      expect(await store.get(key)).toEqual({ value: 2 });
      await store.set('unrelated', 1);
      const cleared = add.clear();
      expect(isThenable(cleared)).toBe(backend.mode === 'async');
      expect(await cleared).toBe(2);
      expect(await store.has(key)).toBe(false);
      expect(await store.has(addx.keyFor(1))).toBe(true);
      expect(await store.keys({ prefix: 'scache:' })).toEqual([addx.keyFor(1)]);
      expect(await store.get('unrelated')).toBe(1);
    });
  });
}
