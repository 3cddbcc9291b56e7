import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KVStore, scache } from '../src';
import { builtEntry } from './built';
import { FakeClock, counted, tempDb, tempDir, thrown } from './helpers';

let store: KVStore;
let clock: FakeClock;
beforeEach(() => {
  clock = new FakeClock();
  store = new KVStore(tempDb(), { clock });
});
afterEach(() => store.close());


describe('scache: sync functions', () => {
  it('calls the function once per distinct arguments', () => {
    const add = counted((a: number, b: number) => ({ sum: a + b }));
    const cached = scache({ store })(add);
    expect(cached(1, 2)).toEqual({ sum: 3 });
    expect(cached(1, 2)).toEqual({ sum: 3 });
    expect(add.calls).toBe(1);
    expect(cached(2, 1)).toEqual({ sum: 3 });
    expect(add.calls).toBe(2);
  });

  it('keeps the name and length of the function', () => {
    function fetchData(userId: number, includeDetails = false) {
      return { userId, includeDetails };
    }
    const cached = scache({ store })(fetchData);
    expect(cached.name).toBe('fetchData');
    expect(cached.length).toBe(1);
  });

  it('caches null and undefined results', () => {
    const nothing = counted((x: number): null | undefined => (x > 0 ? null : undefined));
    const cached = scache({ store, name: 'nothing' })(nothing);
    expect(cached(1)).toBeNull();
    expect(cached(1)).toBeNull();
    expect(cached(0)).toBeUndefined();
    expect(cached(0)).toBeUndefined();
    expect(nothing.calls).toBe(2);
  });

  it('does not cache a thrown error', () => {
    let fail = true;
    const flaky = counted(() => {
      if (fail) throw new Error('down');
      return 'up';
    });
    const cached = scache({ store, name: 'flaky' })(flaky);
    expect(() => cached()).toThrow('down');
    fail = false;
    expect(cached()).toBe('up');
    expect(cached()).toBe('up');
    expect(flaky.calls).toBe(2);
  });

  it('expires results after ttl seconds', () => {
    const now = counted(() => clock.now());
    const cached = scache({ store, ttl: 10, name: 'now' })(now);
    const first = cached();
    clock.advance(9);
    expect(cached()).toBe(first);
    clock.advance(2);
    expect(cached()).not.toBe(first);
    expect(now.calls).toBe(2);
  });

  it('preserves this', () => {
    const obj = {
      factor: 3,
      times: scache({ store, name: 'times' })(function (this: { factor: number }, x: number) {
        return x * this.factor;
      }),
    };
    expect(obj.times(2)).toBe(6);
  });
});

describe('scache: async functions', () => {
  it('returns promises and caches the resolved value, not the promise', async () => {
    const load = counted(async (id: string) => ({ id }));
    const cached = scache({ store })(load);
    const first = cached('a');
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ id: 'a' });
    const second = cached('a');
    expect(second).toBeInstanceOf(Promise);
    expect(await second).toEqual({ id: 'a' });
    expect(load.calls).toBe(1);
    expect(store.get(cached.keyFor('a'))).toEqual({ value: { id: 'a' }, async: true });
  });

  it('detects a promise from the result, not from the syntax', async () => {
    const plain = counted((x: number) => Promise.resolve(x * 2));
    const cached = scache({ store, name: 'plain' })(plain);
    expect(await cached(2)).toBe(4);
    const hit = cached(2);
    expect(hit).toBeInstanceOf(Promise);
    expect(await hit).toBe(4);
    expect(plain.calls).toBe(1);
  });

  it('does not cache a rejection', async () => {
    let fail = true;
    const flaky = counted(async () => {
      if (fail) throw new Error('down');
      return 'up';
    });
    const cached = scache({ store, name: 'flakyAsync' })(flaky);
    await expect(cached()).rejects.toThrow('down');
    fail = false;
    await expect(cached()).resolves.toBe('up');
    await expect(cached()).resolves.toBe('up');
    expect(flaky.calls).toBe(2);
  });

  it('shares one execution among concurrent calls with the same key', async () => {
    let release: (v: string) => void = () => undefined;
    const slow = counted((_x: number) => new Promise<string>((resolve) => (release = resolve)));
    const cached = scache({ store, name: 'slow' })(slow);
    const calls = [cached(1), cached(1), cached(1)];
    expect(slow.calls).toBe(1);
    release('done');
    expect(await Promise.all(calls)).toEqual(['done', 'done', 'done']);
    await cached(1);
    expect(slow.calls).toBe(1);
  });

  it('caches an async undefined', async () => {
    const none = counted(async () => undefined);
    const cached = scache({ store, name: 'none' })(none);
    expect(await cached()).toBeUndefined();
    expect(await cached()).toBeUndefined();
    expect(none.calls).toBe(1);
  });
});

describe('scache: keys', () => {
  const cachedIdentity = () => scache({ store, name: 'id' })((...args: unknown[]) => args.length);

  it('ignores the order of object keys, recursively', () => {
    const f = cachedIdentity();
    expect(f.keyFor({ a: 1, b: { c: 2, d: 3 } })).toBe(f.keyFor({ b: { d: 3, c: 2 }, a: 1 }));
  });

  it.each([
    [1, '1'],
    [null, undefined],
    [[1, 2], '1,2'],
    [new Date(0), 0],
    [new Map([['a', 1]]), new Map([['a', 2]])],
    [new Set([1]), new Set([2])],
    [1n, 1],
    [0, -0],
    [{ a: 1 }, { a: '1' }],
    [[1, [2]], [[1], 2]],
    ['a', ['a']],
  ])('tells %p and %p apart', (a, b) => {
    const f = cachedIdentity();
    expect(f.keyFor(a)).not.toBe(f.keyFor(b));
  });

  it('encodes Maps and Sets independently of insertion order', () => {
    const f = cachedIdentity();
    expect(f.keyFor(new Map([['a', 1], ['b', 2]]))).toBe(f.keyFor(new Map([['b', 2], ['a', 1]])));
    expect(f.keyFor(new Set([1, 2]))).toBe(f.keyFor(new Set([2, 1])));
  });

  it('lays keys out as scache:<name>:<sha256>', () => {
    expect(cachedIdentity().keyFor(1, 'x')).toMatch(/^scache:id:[0-9a-f]{64}$/);
  });

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a class instance', new (class Point {})()],
    ['a nested function', { cb: () => 1 }],
  ])('refuses %s as an argument, without calling the function', (_what, arg) => {
    const fn = counted((..._args: unknown[]) => 1);
    const cached = scache({ store, name: 'strict' })(fn);
    const err = thrown(() => cached(arg));
    expect(err.code).toBe('ERR_KV_UNKEYABLE_ARGUMENT');
    expect(fn.calls).toBe(0);
  });

  it('refuses a cyclic argument', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(thrown(() => cachedIdentity()(cyclic)).code).toBe('ERR_KV_UNKEYABLE_ARGUMENT');
  });

  it('uses a keyFunc, under the function prefix', () => {
    const search = counted((query: string, page = 1) => `${query}#${page}`);
    const cached = scache<[string, number?]>({ store, keyFunc: (fn, args) => `${fn.name}:${args[0]}` })(search);
    expect(cached('cats', 1)).toBe('cats#1');
    expect(cached('cats', 2)).toBe('cats#1'); // only the first argument counts
    expect(search.calls).toBe(1);
    expect(cached.keyFor('cats')).toMatch(/^scache:work#[0-9a-f]{16}:work:cats$/);
    const withCallback = scache({ store, name: 'cb', keyFunc: () => 'fixed' })((cb: () => number) => cb());
    expect(withCallback(() => 7)).toBe(7);
    expect(withCallback(() => 8)).toBe(7);
  });

  it('keys an anonymous function by its source, and a named one by its name and source', () => {
    const double = scache({ store })(((x: number) => x * 2) as (x: number) => number);
    const triple = scache({ store })(((x: number) => x * 3) as (x: number) => number);
    expect([double(5), triple(5), double(5)]).toEqual([10, 15, 10]);
    expect(double.keyFor(5)).toMatch(/^scache:anonymous#[0-9a-f]{16}:[0-9a-f]{64}$/);
    expect(double.keyFor(5)).not.toBe(triple.keyFor(5));
    expect(scache({ store, name: 'anon' })((x: number) => x).keyFor(5)).toMatch(/^scache:anon:[0-9a-f]{64}$/);
  });

  it('tells apart two functions of the same name and different code without a name option', () => {
    const a = scache({ store })(function f() {
      return 'a';
    });
    const b = scache({ store })(function f() {
      return 'b';
    });
    expect([a(), b(), a(), b()]).toEqual(['a', 'b', 'a', 'b']);
  });

  it('tells apart two functions of the same name by their name option', () => {
    const a = scache({ store, name: 'a' })(function f() {
      return 'a';
    });
    const b = scache({ store, name: 'b' })(function f() {
      return 'b';
    });
    expect([a(), b(), a(), b()]).toEqual(['a', 'b', 'a', 'b']);
  });

  it('clear() drops all entries of one function, and only those', () => {
    const add = scache({ store, name: 'add' })((x: number) => x + 1);
    const addx = scache({ store, name: 'addx' })((x: number) => x + 2);
    add(1);
    add(2);
    addx(1);
    store.set('other', 1);
    expect(add.clear()).toBe(2);
    expect(store.has(add.keyFor(1))).toBe(false);
    expect(store.has(addx.keyFor(1))).toBe(true);
    expect(store.get('other')).toBe(1);
  });

  it('validates its options', () => {
    expect(thrown(() => scache({ ttl: 0 })).code).toBe('ERR_KV_INVALID_TTL');
    expect(thrown(() => scache({ store: {} as never })).code).toBe('ERR_KV_INVALID_OPTION');
    expect(thrown(() => scache({ nmae: 'x' } as never)).code).toBe('ERR_KV_INVALID_OPTION');
    expect(thrown(() => scache({ name: 'a:b' })).code).toBe('ERR_KV_INVALID_OPTION');
  });
});

describe('scache: conditional caching', () => {
  it.each([false, 0])('bypasses the cache entirely while the key holds %p', (off) => {
    const load = counted((x: number) => x * 10);
    const cached = scache({ store, conditionalKey: 'enable_cache', name: 'load' })(load);
    expect(cached(1)).toBe(10); // absent: caching on
    expect(cached(1)).toBe(10);
    expect(load.calls).toBe(1);
    store.set('enable_cache', off);
    expect(cached(1)).toBe(10);
    expect(cached(2)).toBe(20);
    expect(load.calls).toBe(3);
    expect(store.has(cached.keyFor(2))).toBe(false); // nothing written while off
    store.set('enable_cache', true);
    expect(cached(1)).toBe(10);
    expect(load.calls).toBe(3);
  });

  it.each([null, 'no', 1, true])('keeps caching on when the key holds %p', (value) => {
    const load = counted(() => 'x');
    const cached = scache({ store, conditionalKey: 'flag', name: 'on' })(load);
    store.set('flag', value);
    cached();
    cached();
    expect(load.calls).toBe(1);
  });
});

describe('scache: results the store cannot keep', () => {
  it('returns the result, stores nothing, and warns once', () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const makeMap = counted((x: number) => new Map([[x, x]]));
      const cached = scache({ store, name: 'makeMap' })(makeMap);
      expect(cached(1)).toEqual(new Map([[1, 1]]));
      expect(cached(1)).toEqual(new Map([[1, 1]]));
      expect(cached(2)).toEqual(new Map([[2, 2]]));
      expect(makeMap.calls).toBe(3);
      expect(store.size).toBe(0);
      expect(emitWarning).toHaveBeenCalledTimes(1);
      expect(emitWarning.mock.calls[0]?.[0]).toContain('makeMap');
      expect(emitWarning.mock.calls[0]?.[1]).toMatchObject({ code: 'DRIZZLE_KV_SCACHE_NOT_STORED' });
    } finally {
      emitWarning.mockRestore();
    }
  });
});

describe('scache: decorator', () => {
  it('memoizes a method per class, with this preserved', async () => {
    const log: string[] = [];
    class Users {
      constructor(private readonly prefix: string) {}
      @scache({ store, ttl: 60, instanceKey: (self: Users) => self.prefix })
      async load(id: string) {
        log.push(id);
        return `${this.prefix}${id}`;
      }
    }
    class Teams {
      @scache({ store, instanceKey: null })
      load(id: string) {
        log.push(`team ${id}`);
        return `team ${id}`;
      }
    }
    const users = new Users('user:');
    expect(await users.load('a')).toBe('user:a');
    expect(await users.load('a')).toBe('user:a');
    expect(new Teams().load('a')).toBe('team a');
    expect(new Teams().load('a')).toBe('team a');
    expect(log).toEqual(['a', 'team a']);
    expect(store.keys().map((k) => k.split(/[:#]/).slice(0, 2).join(':')).sort()).toEqual(['scache:Teams.load', 'scache:Users.load']);
  });
});

describe('scache: decorator and inheritance', () => {
  it('names a method by the class that defines it, whichever class is built first', () => {
    class Base {
      @scache({ store, instanceKey: null })
      load(id: string): string {
        return `base:${id}`;
      }
    }
    class Sub extends Base {
      @scache({ store, instanceKey: null })
      override load(id: string): string {
        return `sub:${id}+${super.load(id)}`;
      }
    }
    expect(new Sub().load('a')).toBe('sub:a+base:a');
    expect(new Base().load('a')).toBe('base:a');
    expect(store.keys().map((k) => k.split(/[:#]/)[1]).sort()).toEqual(['Base.load', 'Sub.load']);
  });
});

describe('scache: across processes', () => {
  it('computes the same key in another process, and sees the results it cached', () => {
    const path = tempDb();
    const shared = new KVStore(path);
    const add = scache({ store: shared, name: 'add' })(function add(a: number, b: number, opts: { c: string }) {
      return { sum: a + b, c: opts.c };
    });
    add(1, 2, { c: 'x' });
    const child = `
      const { KVStore, scache } = require(${JSON.stringify(builtEntry())});
      const store = new KVStore(${JSON.stringify(path)});
      const add = scache({ store, name: 'add' })(function add() { throw new Error('should have been a cache hit'); });
      console.log(JSON.stringify({ key: add.keyFor(1, 2, { c: 'x' }), value: add(1, 2, { c: 'x' }) }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', child], { encoding: 'utf8' })) as { key: string; value: unknown };
    expect(out.key).toBe(add.keyFor(1, 2, { c: 'x' }));
    expect(out.value).toEqual({ sum: 3, c: 'x' });
    shared.close();
  });

  it('without a name: shares results with another process running the same code, not with changed code', () => {
    const path = tempDb();
    const source = 'function add(a, b) { return { sum: a + b, by: process.pid }; }';
    const run = (code: string) =>
      JSON.parse(
        execFileSync(
          process.execPath,
          ['-e', `const { KVStore, scache } = require(${JSON.stringify(builtEntry())});
            const add = scache({ store: new KVStore(${JSON.stringify(path)}) })(${code});
            console.log(JSON.stringify(add(1, 2)));`],
          { encoding: 'utf8' },
        ),
      ) as { sum: number; by: number };
    const first = run(source);
    expect(run(source)).toEqual(first); // a hit: computed by the first process
    const changed = run(source.replace('a + b', 'b + a'));
    expect(changed.sum).toBe(3);
    expect(changed.by).not.toBe(first.by); // another function's code: computed anew
  });

  it('opens the default store lazily, at the first call', () => {
    const dir = tempDir();
    const child = `
      const { scache } = require(${JSON.stringify(builtEntry())});
      const fs = require('node:fs');
      const hello = scache()(function hello(name) { return 'hello ' + name; });
      const before = fs.existsSync('cache.db');
      console.log(JSON.stringify([before, hello('a'), fs.existsSync('cache.db')]));
    `;
    const out = execFileSync(process.execPath, ['-e', child], { cwd: dir, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([false, 'hello a', true]);
    expect(existsSync(join(dir, 'cache.db'))).toBe(true);
  });
});
