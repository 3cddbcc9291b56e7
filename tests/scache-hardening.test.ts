/**
 * scache at its edges: arguments whose keys used to collide or overflow the
 * stack, arguments mutated while a call is in flight, calls that never
 * settle, damaged entries, and results that arrive after the store closed.
 */
import { execFileSync } from 'node:child_process';
import { KVStore, type MemoStore, isKVError, scache } from '../src';
import { builtEntry } from './built';
import { FakeClock, counted, tempDb, thrown, withRaw } from './helpers';

let path: string;
let store: KVStore;
beforeEach(() => {
  path = tempDb();
  store = new KVStore(path, { clock: new FakeClock() });
});
afterEach(() => store.close());


/** A promise and the functions that settle it, for calls tests keep in flight. */
function deferred<T>() {
  let resolve: (value: T) => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether `promise` has settled once every microtask queued so far has run (a real setImmediate turn). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

/** Captures process warnings instead of printing them. */
function captureWarnings() {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  return {
    codes: () => spy.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code),
    messages: () => spy.mock.calls.map((c) => String(c[0])),
    restore: () => spy.mockRestore(),
  };
}

/** `depth` levels of `wrap` around 1. */
function nested(depth: number, wrap: (inner: unknown) => unknown): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
}

/** An array of `length` with only `values` set: the rest are holes. */
function sparse(length: number, values: Record<number, unknown>): unknown[] {
  return Object.assign(new Array<unknown>(length), values);
}

const identity = () => scache({ store, name: 'id' })((...args: unknown[]) => args.length);

describe('scache keys: values that used to share a key', () => {
  it.each([
    ['an array hole and undefined', sparse(2, { 1: 1 }), [undefined, 1]],
    ['a trailing hole and a trailing undefined', sparse(2, { 0: 1 }), [1, undefined]],
    ['runs of holes of different lengths', sparse(3, { 2: 1 }), sparse(3, { 1: 1 })],
    ['an array with a named property and one without', Object.assign([1], { x: 2 }), [1]],
    ['arrays whose named properties differ', Object.assign([1], { x: 2 }), Object.assign([1], { x: 3 })],
    ['a named property and an element', Object.assign([1], { x: 2 }), [1, { x: 2 }]],
  ])('tells apart %s', (_what, a, b) => {
    const f = identity();
    expect(f.keyFor(a)).not.toBe(f.keyFor(b));
  });

  it('gives equal sparse arrays, and equal named properties in any order, one key', () => {
    const f = identity();
    expect(f.keyFor(sparse(4, { 1: 1 }))).toBe(f.keyFor(sparse(4, { 1: 1 })));
    expect(f.keyFor(Object.assign([1], { a: 1, b: 2 }))).toBe(f.keyFor(Object.assign([1], { b: 2, a: 1 })));
  });

  it('keys a huge sparse array by its runs of holes, without walking every index', () => {
    const f = identity();
    const huge = new Array<unknown>(2 ** 32 - 1);
    huge[7] = 'x';
    expect(f.keyFor(huge)).toMatch(/^scache:id:[0-9a-f]{64}$/);
    expect(f.keyFor(huge)).not.toBe(f.keyFor(new Array<unknown>(2 ** 32 - 1)));
  });

  it.each([
    ['an object with a symbol-keyed property', { a: 1, [Symbol('s')]: 2 }, 'symbol-keyed'],
    ['an object with a non-enumerable property', Object.defineProperty({ a: 1 }, 'hidden', { value: 2 }), '"hidden" is not enumerable'],
    ['an array with a symbol-keyed property', Object.assign([1], { [Symbol('s')]: 2 }), 'symbol-keyed'],
    ['an array with a non-enumerable named property', Object.defineProperty([1], 'hidden', { value: 2 }), '"hidden" is not enumerable'],
    ['a Date with an own property', Object.assign(new Date(0), { tz: 'UTC' }), 'own properties'],
    ['a Map with an own property', Object.assign(new Map(), { extra: 1 }), 'own properties'],
    ['a nested object with a symbol key', { outer: { [Symbol.for('k')]: 1 } }, 'argument 0.outer'],
  ])('refuses %s without calling the function', (_what, arg, message) => {
    const fn = counted((..._args: unknown[]) => 1);
    const cached = scache({ store, name: 'strict' })(fn);
    const err = thrown(() => cached(arg));
    expect(err.code).toBe('ERR_KV_UNKEYABLE_ARGUMENT');
    expect(err.message).toContain(message);
    expect(fn.calls).toBe(0);
  });

  // Computed by the release before holes, named properties and hidden properties were told apart:
  // entries it wrote must still be found.
  it.each([
    [[1, 'x'], 'd4ac4998008efe6848a61b01b6c005ece7797efc0cced2e50d5294b6deed386f'],
    [[{ b: [1, 2, { c: null }], a: undefined }], 'ca897eed64f6de88df6469a9773361a687f09225f74f1cfe37e1517eb92d207b'],
    [[new Date(0), /a.b/gi, 1n, -0, NaN, Infinity, true, false], '9739dd3672006d58b832b9aeae2ab5d3a3347f0bb066da48645b329ebace1995'],
    [
      [new Map<unknown, unknown>([['k', 1], [2, 'v']]), new Set([3, 'a']), new Uint8Array([1, 2, 255]), Buffer.from('hi')],
      'ebd9085513927f3a9cfd612c1773be69691937ee0837c775617d94848e1860e5',
    ],
    [[Object.assign(Object.create(null) as object, { z: 1, a: 2 })], 'ba9968e43ec3d56fac29c8233161a694da0530bbf3c9f96abf024ecb864a49de'],
    [[[undefined, null]], 'f4f603180ae3972c8a62e4ebfe9115c6e0c92b72205dcac2f7e99b9da949628b'],
    [[], 'b1f1e1efa0422888346cb01744e905f325be96a2431ec34557ddc5eb50ef82f8'],
  ])('keeps the key earlier releases gave %p', (args, hash) => {
    expect(identity().keyFor(...args)).toBe(`scache:id:${hash}`);
  });
});

describe('scache keys: deep nesting', () => {
  it.each([
    ['arrays', (v: unknown) => [v]],
    ['objects', (v: unknown) => ({ next: v })],
    ['Maps', (v: unknown) => new Map([['k', v]])],
  ])('refuses 20,000 levels of %s with ERR_KV_UNKEYABLE_ARGUMENT naming the limit, not a RangeError', (_what, wrap) => {
    const fn = counted((..._args: unknown[]) => 1);
    const cached = scache({ store, name: 'deep' })(fn);
    const err = thrown(() => cached('first', nested(20_000, wrap)));
    expect(isKVError(err)).toBe(true);
    expect(err.code).toBe('ERR_KV_UNKEYABLE_ARGUMENT');
    expect(err.message).toContain('nested more than 1000 levels deep');
    expect(err.message).toContain('argument 1');
    expect(err.message.length).toBeLessThan(400); // the path is cut, not a thousand "[0]"s
    expect(fn.calls).toBe(0);
  });

  it('keys an argument nested exactly 1000 levels deep', () => {
    const f = identity();
    expect(f.keyFor(nested(1000, (v) => [v]))).toBe(f.keyFor(nested(1000, (v) => [v])));
    expect(thrown(() => f.keyFor(nested(1001, (v) => [v]))).code).toBe('ERR_KV_UNKEYABLE_ARGUMENT');
  });

  it('refuses a toJSON that nests without end', () => {
    class Endless {
      toJSON(): unknown {
        return { more: new Endless() };
      }
    }
    expect(thrown(() => identity().keyFor(new Endless())).code).toBe('ERR_KV_UNKEYABLE_ARGUMENT');
  });

  it('gives ERR_KV_UNKEYABLE_ARGUMENT when a call from a nearly full stack runs out of it below the limit', () => {
    const f = identity();
    const deep = nested(900, (v) => [v]);
    const descend = (n: number, fn: () => string): string => (n === 0 ? fn() : descend(n - 1, fn));
    // How deep this stack goes; then step back far enough to leave room to build an error, not 900 levels.
    let max = 0;
    for (let n = 1_000; ; n += 1_000) {
      try {
        descend(n, () => 'ok');
        max = n;
      } catch {
        break;
      }
    }
    let outcome = '';
    for (let n = max - 1_000; n > 0 && outcome === ''; n -= 1_000) {
      try {
        outcome = descend(n, () => {
          try {
            f.keyFor(deep);
            return 'keyed';
          } catch (err) {
            return isKVError(err) ? `${err.code}: ${err.message}` : `not a KVError: ${String(err)}`;
          }
        });
      } catch {
        // The descent itself ran out (frames may have grown since they were measured): go shallower.
      }
    }
    expect(outcome).toMatch(/^ERR_KV_UNKEYABLE_ARGUMENT: .*ran out of stack/);
  });
});

describe('scache: arguments mutated while a call is in flight', () => {
  it('caches the result under the key of the arguments as they were at the call', async () => {
    const gate = deferred<string>();
    const load = counted((_query: { id: number }) => gate.promise);
    const cached = scache({ store, name: 'load' })(load);
    const query = { id: 1 };
    const originalKey = cached.keyFor({ id: 1 });
    const call = cached(query);
    query.id = 2; // mutated while in flight
    const other = cached(query); // another key: does not join the first call
    expect(load.calls).toBe(2);
    gate.resolve('result of 1');
    expect(await call).toBe('result of 1');
    await other;
    expect(store.get(originalKey)).toEqual({ value: 'result of 1', async: true });
    expect(await cached({ id: 1 })).toBe('result of 1');
    expect(load.calls).toBe(2);
  });

  it('keys a sync call before the function runs, even if the function mutates its argument', () => {
    const consume = counted((items: number[]) => items.splice(0).length);
    const cached = scache({ store, name: 'consume' })(consume);
    expect(cached([1, 2, 3])).toBe(3);
    expect(cached([1, 2, 3])).toBe(3);
    expect(consume.calls).toBe(1);
    expect(store.has(cached.keyFor([]))).toBe(false);
  });
});

describe('scache: calls that never settle', () => {
  it('clear() forgets a call in flight, so the next call computes anew', async () => {
    const calls: ReturnType<typeof deferred<string>>[] = [];
    const hang = counted((_x: number) => {
      const d = deferred<string>();
      calls.push(d);
      return d.promise;
    });
    const cached = scache({ store, name: 'hang' })(hang);
    const first = cached(1);
    void cached(1); // shares the first call
    expect(hang.calls).toBe(1);
    cached.clear();
    const second = cached(1);
    expect(hang.calls).toBe(2);
    calls[1]?.resolve('fresh');
    expect(await second).toBe('fresh');
    expect(await cached(1)).toBe('fresh');
    expect(hang.calls).toBe(2);
    expect(await settled(first)).toBe(false); // its callers keep waiting for the original call
  });

  it('a call forgotten by clear() still reaches its callers, but neither caches its outcome nor unshares the newer call', async () => {
    const calls: ReturnType<typeof deferred<string>>[] = [];
    const slow = counted((_x: number) => {
      const d = deferred<string>();
      calls.push(d);
      return d.promise;
    });
    const cached = scache({ store, name: 'slow' })(slow);
    const old = cached(1);
    cached.clear();
    const fresh = cached(1);
    calls[0]?.resolve('old');
    expect(await old).toBe('old');
    expect(store.has(cached.keyFor(1))).toBe(false);
    void cached(1); // still joins the newer call
    expect(slow.calls).toBe(2);
    calls[1]?.resolve('new');
    expect(await fresh).toBe('new');
    expect(store.get(cached.keyFor(1))).toEqual({ value: 'new', async: true });
  });

  describe('inFlightTimeout', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'Date', 'performance', 'hrtime'] }));
    afterEach(() => jest.useRealTimers());

    it('stops sharing a pending call with new callers after the timeout', async () => {
      const calls: ReturnType<typeof deferred<string>>[] = [];
      const hang = counted((_x: number) => {
        const d = deferred<string>();
        calls.push(d);
        return d.promise;
      });
      const cached = scache({ store, name: 'hang', inFlightTimeout: 5 })(hang);
      const first = cached(1);
      jest.advanceTimersByTime(4_999);
      void cached(1);
      expect(hang.calls).toBe(1); // still shared
      jest.advanceTimersByTime(2);
      const second = cached(1);
      expect(hang.calls).toBe(2); // a fresh execution
      calls[1]?.resolve('fresh');
      expect(await second).toBe('fresh');
      expect(await cached(1)).toBe('fresh');
      expect(hang.calls).toBe(2);
      expect(await settled(first)).toBe(false); // those waiting on the first call keep waiting for it
    });

    it('gives the late outcome to its own callers without overwriting the fresh result', async () => {
      const calls: ReturnType<typeof deferred<string>>[] = [];
      const slow = counted((_x: number) => {
        const d = deferred<string>();
        calls.push(d);
        return d.promise;
      });
      const cached = scache({ store, name: 'slow', inFlightTimeout: 0.5 })(slow);
      const late = cached(1);
      jest.advanceTimersByTime(500);
      const fresh = cached(1);
      calls[1]?.resolve('new');
      expect(await fresh).toBe('new');
      calls[0]?.resolve('old');
      expect(await late).toBe('old');
      expect(store.get(cached.keyFor(1))).toEqual({ value: 'new', async: true });
    });

    it('leaves no timer behind once the call settles', async () => {
      const cached = scache({ store, name: 'quick', inFlightTimeout: 60 })(async (x: number) => x);
      expect(await cached(1)).toBe(1);
      expect(jest.getTimerCount()).toBe(0);
    });
  });

  it('does not keep the process alive with its timer', () => {
    const child = `
      const { KVStore, scache } = require(${JSON.stringify(builtEntry())});
      const store = new KVStore(':memory:');
      const hang = scache({ store, name: 'hang', inFlightTimeout: 3600 })(() => new Promise(() => {}));
      hang(1);
      process.on('exit', () => console.log('exited'));
    `;
    // Without unref the child would wait an hour; the bound here is coarse on purpose.
    const out = execFileSync(process.execPath, ['-e', child], { encoding: 'utf8', timeout: 30_000 });
    expect(out.trim()).toBe('exited');
  });

  it.each([0, -1, NaN, 2_147_484, '5', null, true])('refuses inFlightTimeout %p', (value) => {
    const err = thrown(() => scache({ store, inFlightTimeout: value as number }));
    expect(err.code).toBe('ERR_KV_INVALID_OPTION');
    expect(err.message).toContain('inFlightTimeout');
  });

  it.each([0.001, 30, 2_147_483.647, Infinity])('accepts inFlightTimeout %p', async (value) => {
    const cached = scache({ store, name: 'ok', inFlightTimeout: value })(async (x: number) => x * 2);
    expect(await cached(2)).toBe(4);
    expect(await cached(2)).toBe(4);
  });
});

describe('scache: damaged entries', () => {
  /** Overwrites the stored bytes of `key` with bytes no serializer of this library reads. */
  const damage = (key: string) =>
    withRaw(path, (db) => db.prepare(`UPDATE ${store.name} SET value = x'ff' WHERE key = ?`).run(key).changes);

  it('treats an entry the store cannot decode as a miss: recomputes, overwrites it, warns once', () => {
    const warnings = captureWarnings();
    try {
      const square = counted((x: number) => x * x);
      const cached = scache({ store, name: 'square' })(square);
      expect(cached(3)).toBe(9);
      expect(damage(cached.keyFor(3))).toBe(1);
      expect(thrown(() => store.get(cached.keyFor(3))).code).toBe('ERR_KV_DESERIALIZE');
      expect(cached(3)).toBe(9);
      expect(square.calls).toBe(2);
      expect(store.get(cached.keyFor(3))).toEqual({ value: 9 }); // repaired
      expect(cached(3)).toBe(9);
      expect(square.calls).toBe(2);
      cached(4);
      damage(cached.keyFor(4));
      expect(cached(4)).toBe(16);
      expect(warnings.codes()).toEqual(['DRIZZLE_KV_SCACHE_DAMAGED']); // once per function
      expect(warnings.messages()[0]).toContain('square');
    } finally {
      warnings.restore();
    }
  });

  it('recomputes a damaged entry of an async function, and shares the recomputation', async () => {
    const warnings = captureWarnings();
    try {
      const load = counted(async (id: string) => ({ id }));
      const cached = scache({ store, name: 'load' })(load);
      await cached('a');
      damage(cached.keyFor('a'));
      expect(await Promise.all([cached('a'), cached('a')])).toEqual([{ id: 'a' }, { id: 'a' }]);
      expect(load.calls).toBe(2);
      expect(store.get(cached.keyFor('a'))).toEqual({ value: { id: 'a' }, async: true });
      expect(warnings.codes()).toEqual(['DRIZZLE_KV_SCACHE_DAMAGED']);
    } finally {
      warnings.restore();
    }
  });

  it('still reports other store errors', () => {
    const cached = scache({ store, name: 'closed' })((x: number) => x);
    store.close();
    expect(thrown(() => cached(1)).code).toBe('ERR_KV_CLOSED');
  });
});

describe('scache: results the store can no longer keep', () => {
  it('returns an async result that arrives after the store was closed, and warns once', async () => {
    const warnings = captureWarnings();
    try {
      const gates = [deferred<string>(), deferred<string>()];
      const fetch = counted((i: number) => (gates[i] as ReturnType<typeof deferred<string>>).promise);
      const cached = scache({ store, name: 'fetch' })(fetch);
      const calls = [cached(0), cached(1)];
      store.close();
      gates[0]?.resolve('late');
      gates[1]?.resolve('later');
      expect(await Promise.all(calls)).toEqual(['late', 'later']);
      expect(warnings.codes()).toEqual(['DRIZZLE_KV_SCACHE_NOT_STORED']);
      expect(warnings.messages()[0]).toContain('fetch');
      expect(warnings.messages()[0]).toContain('closed');
    } finally {
      warnings.restore();
    }
  });

  it('returns a sync result when the store was closed while the function ran', () => {
    const warnings = captureWarnings();
    try {
      const shutdown = scache({ store, name: 'shutdown' })(function shutdown() {
        store.close();
        return 'bye';
      });
      expect(shutdown()).toBe('bye');
      expect(warnings.codes()).toEqual(['DRIZZLE_KV_SCACHE_NOT_STORED']);
    } finally {
      warnings.restore();
    }
  });

  it('returns the result when a custom store fails to write with an error of its own', () => {
    const warnings = captureWarnings();
    try {
      const broken: MemoStore = {
        get: (_key, defaultValue) => defaultValue,
        set: () => {
          throw new Error('disk on fire');
        },
        clear: () => 0,
      };
      const cached = scache({ store: broken, name: 'broken' })((x: number) => x + 1);
      expect(cached(1)).toBe(2);
      expect(warnings.messages()[0]).toContain('disk on fire');
    } finally {
      warnings.restore();
    }
  });
});
