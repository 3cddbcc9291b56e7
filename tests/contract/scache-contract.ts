/**
 * scache on every backend: memoization, TTLs, `conditionalKey`, `keyFor`
 * and `clear()`. On a sync store a wrapped sync function returns its value;
 * on an async store every wrapper returns a promise (scache must await the
 * store), so the tests await every call and check which of the two it was.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type MemoStore, scache } from '../../src';
import { FakeClock, counted } from '../helpers';
import type { Backend, ContractStore } from './backends';
import { failure, isThenable } from './support';

/** The store as scache's option takes it, typed as the sync kind: the tests await every result either way. */
const memo = (store: ContractStore): MemoStore => store as unknown as MemoStore;

/** The lease key of an entry key, as scache derives it: `scache:<name>:…` → `scache-lease:<name>:…`. */
const leaseKeyOf = (entryKey: string): string => `scache-lease:${entryKey.slice('scache:'.length)}`;

/** Waits (real time) until `condition` holds: for what a background refresh does. Fails after 10 s. */
async function until(condition: () => boolean | Promise<boolean>, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The value of a scache entry as stored, or undefined. */
const storedValue = async (store: ContractStore, key: string): Promise<unknown> => ((await store.get(key)) as { value?: unknown } | undefined)?.value;

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

    it('stats() counts hits, misses and runs of this function; resetStats() sets them to zero', async () => {
      const add = counted((x: number) => x + 1);
      const cached = scache({ store: memo(store), name: 'stats' })(add);
      expect(cached.stats()).toEqual({ hits: 0, misses: 0, stale: 0, computed: 0, waited: 0 });
      expect(await result(cached(1))).toBe(2);
      expect(await result(cached(1))).toBe(2);
      expect(await result(cached(2))).toBe(3);
      const seen = cached.stats();
      expect(seen).toEqual({ hits: 1, misses: 2, stale: 0, computed: 2, waited: 0 });
      await result(cached(2));
      expect(seen.hits).toBe(1); // a copy
      expect(cached.stats()).toEqual({ hits: 2, misses: 2, stale: 0, computed: 2, waited: 0 });
      cached.resetStats();
      expect(cached.stats()).toEqual({ hits: 0, misses: 0, stale: 0, computed: 0, waited: 0 });
      // A run with caching switched off is a run, neither a hit nor a miss.
      const switched = scache({ store: memo(store), name: 'switched', conditionalKey: 'cache_on' })(add);
      await store.set('cache_on', false);
      await result(switched(1));
      expect(switched.stats()).toEqual({ hits: 0, misses: 0, stale: 0, computed: 1, waited: 0 });
      expect(add.calls).toBe(3);
    });

    it('staleWhileRevalidate: serves a stale result at once, refreshes it once in the background, then serves the new one', async () => {
      let calls = 0;
      let open: (() => void) | undefined;
      const version = scache({ store: memo(store), name: 'version', ttl: 10, staleWhileRevalidate: 60, clock })(async function version() {
        calls++;
        if (calls === 2) await new Promise<void>((resolve) => (open = resolve)); // the refresh waits to be let through
        return calls;
      });
      const key = version.keyFor();
      expect(await version()).toBe(1);
      expect(await store.get(key)).toEqual({ value: 1, async: true, fresh: clock.now() + 10_000 });
      expect(await store.ttl(key)).toBeCloseTo(70); // kept ttl + staleWhileRevalidate
      clock.advance(9);
      expect(await version()).toBe(1); // fresh
      expect(calls).toBe(1);
      clock.advance(2); // 11 s: stale, still in the store
      expect(await version()).toBe(1); // the stale result, at once
      await until(() => calls === 2, 'the refresh to start');
      expect(await version()).toBe(1); // still stale: served again, and no second refresh
      expect(calls).toBe(2);
      open?.();
      await until(async () => (await storedValue(store, key)) === 2, 'the refresh to be stored');
      expect(await version()).toBe(2); // fresh again
      expect(version.stats()).toEqual({ hits: 2, misses: 1, stale: 2, computed: 2, waited: 0 });
      clock.advance(71); // past ttl + staleWhileRevalidate: gone from the store, so a miss
      expect(await version()).toBe(3);
      expect(version.stats()).toMatchObject({ misses: 2, computed: 3 });
    });

    it('staleWhileRevalidate: a failed refresh keeps the stale result, is reported once, and is not cached', async () => {
      const warnings = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      try {
        let calls = 0;
        const flaky = scache({ store: memo(store), name: 'flaky', ttl: 10, staleWhileRevalidate: 60, clock })(async function flaky() {
          calls++;
          if (calls === 2 || calls === 3) throw new Error('refresh down');
          return calls;
        });
        const key = flaky.keyFor();
        expect(await flaky()).toBe(1);
        clock.advance(11);
        expect(await flaky()).toBe(1);
        await until(() => warnings.mock.calls.length === 1, 'the warning');
        expect(warnings.mock.calls[0]?.[1]).toMatchObject({ code: 'DRIZZLE_KV_SCACHE_REFRESH_FAILED' });
        expect(String(warnings.mock.calls[0]?.[0])).toContain('refresh down');
        expect(await storedValue(store, key)).toBe(1); // the error was not cached
        expect(await flaky()).toBe(1); // still served stale; tries again
        await until(() => calls === 3, 'the second refresh');
        await sleep(20);
        expect(warnings).toHaveBeenCalledTimes(1); // once per function
        expect(await flaky()).toBe(1);
        await until(async () => (await storedValue(store, key)) === 4, 'the third refresh');
        expect(await flaky()).toBe(4);
      } finally {
        warnings.mockRestore();
      }
    });

    it('staleWhileRevalidate with a sync function: refreshed in the background on an async store, recomputed in the call on a sync one', async () => {
      const now = counted(() => clock.now());
      const cached = scache({ store: memo(store), name: 'now', ttl: 10, staleWhileRevalidate: 60, clock })(now);
      const first = await result(cached());
      clock.advance(11);
      const second = await result(cached());
      if (backend.mode === 'sync') {
        // A sync function can only run within its call, so a stale result is a miss there.
        expect(second).toBe(clock.now());
        expect(cached.stats()).toEqual({ hits: 0, misses: 2, stale: 0, computed: 2, waited: 0 });
      } else {
        expect(second).toBe(first);
        await until(async () => (await storedValue(store, cached.keyFor())) === clock.now(), 'the refresh');
        expect(cached.stats()).toEqual({ hits: 0, misses: 1, stale: 1, computed: 2, waited: 0 });
      }
      expect(await result(cached())).toBe(clock.now());
      expect(now.calls).toBe(2);
    });

    it('lease: of two wrappers with the same name (two processes, in effect), one computes and the other waits for its result', async () => {
      let calls = 0;
      const slow = async function slow(id: string) {
        calls++;
        await sleep(100);
        return { id, run: calls };
      };
      const a = scache({ store: memo(store), name: 'slow', lease: 30 })(slow);
      const b = scache({ store: memo(store), name: 'slow', lease: { ttl: 30, timeout: 20 } })(slow);
      const [fromA, fromB, againA] = await Promise.all([a('x'), b('x'), a('x')]);
      expect(fromA).toEqual({ id: 'x', run: 1 });
      expect(fromB).toEqual(fromA);
      expect(againA).toEqual(fromA);
      expect(calls).toBe(1);
      const [sa, sb] = [a.stats(), b.stats()];
      expect(sa.computed + sb.computed).toBe(1);
      expect(sa.waited + sb.waited).toBe(1); // the one that did not compute waited
      expect(sa.misses + sb.misses).toBe(2); // a's second call joined a's first: counted in neither
      expect(await store.has(leaseKeyOf(a.keyFor('x')))).toBe(false); // released
      expect(await b('x')).toEqual(fromA);
      expect(b.stats().hits).toBe(sb.hits + 1);
    });

    it('lease: a lease left by a crashed holder delays a caller until it expires, then the caller computes', async () => {
      let calls = 0;
      const cached = scache({ store: memo(store), name: 'crash', lease: 30 })(async function crash(id: string) {
        calls++;
        return id.toUpperCase();
      });
      const leaseKey = leaseKeyOf(cached.keyFor('x'));
      expect(leaseKey).toMatch(/^scache-lease:crash:[0-9a-f]{64}$/);
      expect(await store.add(leaseKey, 'dead', 30)).toBe(true); // the holder "crashed" without releasing it
      let settled = false;
      const pending = Promise.resolve(cached('x')).then((value) => ((settled = true), value));
      await sleep(300); // polling runs on real timers; the lease expires on the store's clock
      expect(settled).toBe(false);
      expect(calls).toBe(0);
      expect(cached.stats()).toMatchObject({ misses: 1, waited: 1, computed: 0 });
      clock.advance(31);
      expect(await pending).toBe('X');
      expect(calls).toBe(1);
      expect(cached.stats()).toEqual({ hits: 0, misses: 1, stale: 0, computed: 1, waited: 1 });
      expect(await store.has(leaseKey)).toBe(false);
      expect(await cached('x')).toBe('X');
      expect(calls).toBe(1);
    });

    it('lease: past its timeout a waiter computes itself, and leaves the holder’s lease alone', async () => {
      const upper = counted((id: string) => id.toUpperCase());
      const cached = scache({ store: memo(store), name: 'upper', lease: { ttl: 30, timeout: 0.2 } })(upper);
      const leaseKey = leaseKeyOf(cached.keyFor('x'));
      await store.add(leaseKey, 'alive', 3600); // a holder that never finishes
      const started = performance.now();
      // On a sync store a sync function's wait blocks, and the value comes back from within the call.
      expect(await result(cached('x'))).toBe('X');
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      expect(upper.calls).toBe(1);
      expect(cached.stats()).toEqual({ hits: 0, misses: 1, stale: 0, computed: 1, waited: 1 });
      expect(await store.get(leaseKey)).toBe('alive');
      expect(await result(cached('x'))).toBe('X'); // cached by the waiter
      expect(upper.calls).toBe(1);
    });

    it('lease: a holder whose lease expired mid-computation leaves the new holder’s lease alone', async () => {
      let open: (() => void) | undefined;
      const cached = scache({ store: memo(store), name: 'overrun', lease: 30 })(async function overrun() {
        await new Promise<void>((resolve) => (open = resolve));
        return 'late';
      });
      const leaseKey = leaseKeyOf(cached.keyFor());
      const pending = cached();
      await until(async () => open !== undefined, 'the function to start');
      expect(await store.has(leaseKey)).toBe(true);
      clock.advance(31); // the function overran its lease, and another process took it
      expect(await store.add(leaseKey, 'next holder', 30)).toBe(true);
      open?.();
      expect(await pending).toBe('late');
      expect(await store.get(leaseKey)).toBe('next holder');
      expect(await storedValue(store, cached.keyFor())).toBe('late');
    });

    it('lease: a holder that fails releases its lease, and its error is not cached', async () => {
      let fail = true;
      const flaky = counted(() => {
        if (fail) throw new Error('down');
        return 'up';
      });
      const cached = scache({ store: memo(store), name: 'flaky', lease: 30 })(flaky);
      const leaseKey = leaseKeyOf(cached.keyFor());
      expect((await failure(() => cached())).message).toBe('down');
      expect(await store.has(leaseKey)).toBe(false);
      fail = false;
      expect(await result(cached())).toBe('up'); // at once: no lease left to wait for
      expect(cached.stats()).toEqual({ hits: 0, misses: 2, stale: 0, computed: 2, waited: 0 });
      expect(await store.has(leaseKey)).toBe(false);
    });

    it('lease: clear() removes the function’s leases along with its entries, and counts the entries', async () => {
      const cached = scache({ store: memo(store), name: 'leased', lease: 30 })((x: number) => x * 2);
      const other = scache({ store: memo(store), name: 'other', lease: 30 })((x: number) => x * 3);
      await result(cached(1));
      await store.add(leaseKeyOf(cached.keyFor(2)), 'dead', 30);
      await store.add(leaseKeyOf(other.keyFor(2)), 'dead', 30);
      expect(await cached.clear()).toBe(1);
      expect(await store.has(leaseKeyOf(cached.keyFor(2)))).toBe(false);
      expect(await store.has(leaseKeyOf(other.keyFor(2)))).toBe(true);
      expect(await result(cached(2))).toBe(4); // no lease left to wait for
      expect(cached.stats().waited).toBe(0);
    });

    it('lease with staleWhileRevalidate: while another holds the lease, a stale hit is served and not refreshed here', async () => {
      let calls = 0;
      const cached = scache({ store: memo(store), name: 'swr', ttl: 10, staleWhileRevalidate: 60, lease: 30, clock })(async function swr() {
        calls++;
        return calls;
      });
      const key = cached.keyFor();
      expect(await cached()).toBe(1);
      clock.advance(11);
      await store.add(leaseKeyOf(key), 'elsewhere', 30); // another process is refreshing
      expect(await cached()).toBe(1);
      await sleep(50);
      expect(calls).toBe(1);
      clock.advance(31); // that process died: its lease expired, the entry is still stale
      expect(await cached()).toBe(1);
      await until(async () => (await storedValue(store, key)) === 2, 'the refresh');
      expect(calls).toBe(2);
      await until(async () => !(await store.has(leaseKeyOf(key))), 'the refresh to release its lease'); // after storing
      expect(await cached()).toBe(2);
      expect(cached.stats()).toEqual({ hits: 1, misses: 1, stale: 2, computed: 2, waited: 0 });
    });
  });
}
