import { encodeArguments, sha256 } from './cache-key';
import { KVRangeError, KVTypeError, isKVError } from './errors';
import { assertOptionsObject } from './options';
import type { ListOptions } from './store';
import { KVStore } from './store';
import { type Ttl, describe, expiryFromTtl } from './validate';

/**
 * What scache needs of a store: any store with the same semantics
 * (a `KVStore`, or another implementation of this contract).
 */
export interface MemoStore {
  get<D>(key: string, defaultValue: D): unknown;
  set(key: string, value: unknown, ttl?: Ttl): void;
  clear(options?: ListOptions): number;
}

/** Options of {@link scache}. */
export interface ScacheOptions<A extends unknown[] = unknown[]> {
  /**
   * Seconds a cached result lives; fractions allowed.
   * @default undefined (no expiry, or the store's `defaultTtl`)
   */
  ttl?: number;
  /**
   * The store results are kept in. When absent, a store in `cache.db` (in
   * the working directory) is opened on the first call, not before.
   */
  store?: MemoStore;
  /**
   * A key of the store that switches caching: while it holds `false` or `0`,
   * calls neither read nor write the cache. Read on every call, so a change
   * takes effect at once, also when made by another process.
   */
  conditionalKey?: string;
  /**
   * Derives the key of a call instead of hashing its arguments. Its result
   * is placed under the function's prefix, like the default key.
   */
  keyFunc?: (fn: (...args: never[]) => unknown, args: A) => string;
  /**
   * The namespace of the function's entries. Defaults to the function's
   * name (`Class.method` for a decorated method). Required for an anonymous
   * function, and to tell apart two functions that share a name.
   */
  name?: string;
}

/** A memoized function: the original's signature, plus cache helpers. */
export type Memoized<F extends (...args: never[]) => unknown> = F & {
  /** Removes every cached result of this function. Returns how many entries were removed. */
  clear(): number;
  /** The store key a call with these arguments reads and writes. */
  keyFor(...args: Parameters<F>): string;
};

/** What {@link scache} returns: a wrapper factory that also works as a method decorator. */
export interface ScacheWrapper {
  <F extends (...args: never[]) => unknown>(fn: F): Memoized<F>;
  <F extends (...args: never[]) => unknown>(fn: F, context: ClassMethodDecoratorContext): F;
}

/** How a cached result is stored: the value, and whether the function returned it through a promise. */
interface Entry {
  value?: unknown;
  async?: true;
}

const MISS = Symbol('miss');
const KEY_PREFIX = 'scache:';

let defaultStore: KVStore | undefined;
function getDefaultStore(): KVStore {
  defaultStore ??= new KVStore('cache.db');
  return defaultStore;
}

function isEntry(found: unknown): found is Entry {
  return typeof found === 'object' && found !== null && Object.keys(found).every((k) => k === 'value' || k === 'async');
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function assertName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.includes(':') || !name.isWellFormed()) {
    throw new KVTypeError(
      'ERR_KV_INVALID_OPTION',
      `scache: ${what} must be a non-empty string without ":", got ${describe(name)}`,
    );
  }
}

function resolveOptions<A extends unknown[]>(options: ScacheOptions<A>): ScacheOptions<A> {
  const given: unknown = options; // checked as it came in, whatever its static type says
  assertOptionsObject(given, ['ttl', 'store', 'conditionalKey', 'keyFunc', 'name'], 'scache: ');
  const { ttl, store, conditionalKey, keyFunc, name } = options;
  if (ttl !== undefined) expiryFromTtl(ttl, 0, 'scache: option "ttl"');
  const isStore = (v: unknown): v is MemoStore =>
    typeof v === 'object' && v !== null && ['get', 'set', 'clear'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function');
  if (store !== undefined && !isStore(store)) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `scache: option "store" must be a store, got ${describe(store)}`);
  }
  if (conditionalKey !== undefined && typeof conditionalKey !== 'string') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `scache: option "conditionalKey" must be a string, got ${describe(conditionalKey)}`);
  }
  if (keyFunc !== undefined && typeof keyFunc !== 'function') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `scache: option "keyFunc" must be a function, got ${describe(keyFunc)}`);
  }
  if (name !== undefined) assertName(name, 'option "name"');
  return options;
}

/**
 * Memoizes a function into a store: the result of a call is kept under a
 * key derived from the function's name and its arguments, and later calls
 * with equal arguments return it without calling the function.
 *
 * - Sync functions return the value; functions returning a promise (async
 *   or not) return a promise of it. The resolved value is cached, never the
 *   promise; errors and rejections are never cached.
 * - `null` and `undefined` results are cached like any other.
 * - Concurrent calls with the same key share one execution while the first
 *   is in flight.
 * - A result the store cannot serialize is returned but not cached, and a
 *   warning (`DRIZZLE_KV_SCACHE_NOT_STORED`) is emitted once per function.
 *
 * Keys look like `scache:<name>:<sha256 of name and arguments>`, so one
 * function's entries share the prefix `scache:<name>:`.
 *
 * @example
 * ```ts
 * const fetchUser = scache({ ttl: 3600, store })(async (id: number) => api.user(id));
 * class Api {
 *   @scache({ ttl: 60, store }) async load(id: string) { ... }
 * }
 * ```
 */
export function scache<A extends unknown[] = unknown[]>(options: ScacheOptions<A> = {}): ScacheWrapper {
  const { ttl, store: givenStore, conditionalKey, keyFunc, name: givenName } = resolveOptions(options);

  function wrap<F extends (...args: never[]) => unknown>(fn: F, context?: ClassMethodDecoratorContext): Memoized<F> {
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `scache: expected a function to wrap, got ${describe(fn)}`);
    }
    let name: string | undefined = givenName;
    if (name === undefined && context === undefined) {
      if (fn.name === '') {
        throw new KVRangeError(
          'ERR_KV_INVALID_OPTION',
          'scache: an anonymous function has no name to key its results by; pass the "name" option',
        );
      }
      name = fn.name;
      assertName(name, "the function's name");
    }
    if (name === undefined && context !== undefined) {
      if (typeof context.name !== 'string') {
        throw new KVRangeError('ERR_KV_INVALID_OPTION', 'scache: a method with a symbol name needs the "name" option');
      }
      const method = context.name;
      // Namespaced by the class that defines the method: the first object up the prototype chain of
      // the first instance (or of the class, for a static method) that holds this very wrapper.
      context.addInitializer(function (this: unknown) {
        if (name !== undefined) return;
        let owner: object | null = this as object;
        while (owner !== null && !(Object.hasOwn(owner, method) && (owner as Record<string, unknown>)[method] === memoized)) {
          owner = Object.getPrototypeOf(owner) as object | null;
        }
        const ctor = typeof owner === 'function' ? owner : (owner as { constructor?: { name?: string } } | null)?.constructor;
        name = `${ctor?.name || 'anonymous'}.${method}`;
      });
    }
    const namespace = () => {
      if (name === undefined) throw new KVRangeError('ERR_KV_INVALID_OPTION', 'scache: the method has no class yet; construct an instance first');
      return `${KEY_PREFIX}${name}:`;
    };
    const call = fn as unknown as (this: unknown, ...args: unknown[]) => unknown;
    const store = () => givenStore ?? getDefaultStore();
    const inFlight = new Map<string, Promise<unknown>>();
    let warned = false;

    const keyFor = (args: unknown[]): string => {
      const prefix = namespace();
      if (keyFunc === undefined) return prefix + sha256(`${name}\u0000${encodeArguments(args)}`);
      const custom = keyFunc(fn, args as A);
      if (typeof custom !== 'string') {
        throw new KVTypeError('ERR_KV_INVALID_KEY', `scache: keyFunc must return a string, got ${describe(custom)}`);
      }
      return prefix + custom;
    };

    const remember = (key: string, entry: Entry): void => {
      try {
        store().set(key, entry, ttl);
      } catch (err) {
        if (!isKVError(err) || err.code === 'ERR_KV_CLOSED') throw err;
        // The caller still gets its result; the cache just could not keep it.
        if (!warned) {
          warned = true;
          process.emitWarning(`scache: a result of ${name} was not cached: ${err.message}`, {
            code: 'DRIZZLE_KV_SCACHE_NOT_STORED',
            detail: 'Later failures of this function are not reported again.',
          });
        }
      }
    };

    function memoized(this: unknown, ...args: unknown[]): unknown {
      const kv = store();
      if (conditionalKey !== undefined) {
        const flag = kv.get(conditionalKey, undefined);
        if (flag === false || flag === 0) return call.apply(this, args);
      }
      const key = keyFor(args);
      const found = kv.get(key, MISS);
      if (found !== MISS && isEntry(found)) return found.async ? Promise.resolve(found.value) : found.value;
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;

      const result = call.apply(this, args);
      if (!isThenable(result)) {
        remember(key, { value: result });
        return result;
      }
      const shared = Promise.resolve(result).then(
        (value) => {
          inFlight.delete(key);
          remember(key, { value, async: true });
          return value;
        },
        (err: unknown) => {
          inFlight.delete(key);
          throw err;
        },
      );
      inFlight.set(key, shared);
      return shared;
    }

    Object.defineProperties(memoized, {
      name: { value: fn.name, configurable: true },
      length: { value: fn.length, configurable: true },
    });
    return Object.assign(memoized, {
      clear: () => store().clear({ prefix: namespace() }),
      keyFor: (...args: unknown[]) => keyFor(args),
    }) as unknown as Memoized<F>;
  }

  return wrap as ScacheWrapper;
}
