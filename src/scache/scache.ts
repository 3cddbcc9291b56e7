import { encodeArguments, sha256 } from './cache-key';
import { KVRangeError, KVTypeError, isKVError } from '../core/errors';
import { assertOptionsObject } from '../core/options';
import type { ListOptions } from '../core/api';
import { defaultStore } from './default-store';
import { describe } from '../core/describe';
import { type Ttl, expiryFromTtl } from '../core/ttl';

/**
 * What scache needs of a store: any store with the same semantics
 * (a `KVStore`, or another implementation of this contract).
 */
export interface MemoStore {
  get<D>(key: string, defaultValue: D): unknown;
  set(key: string, value: unknown, ttl?: Ttl): void;
  clear(options?: ListOptions): number;
}

/**
 * What scache needs of an async store (an `AsyncKVStore` on any engine):
 * the same methods, answering with promises. Its wrappers return promises.
 */
export interface AsyncMemoStore {
  get<D>(key: string, defaultValue: D): Promise<unknown>;
  set(key: string, value: unknown, ttl?: Ttl): Promise<void>;
  clear(options?: ListOptions): Promise<number>;
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
  store?: MemoStore | AsyncMemoStore;
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
   * The namespace of the function's entries, and all that keys depend on
   * besides the arguments: with a `name`, results outlive changes to the
   * function's code and survive any minifier. Without it the namespace is
   * the function's name (`Class.method` for a decorated method) followed by
   * a hash of its source text (`getUser#1f0c…`), so a changed function
   * starts afresh and two functions a minifier gave one name never share
   * results. Give one to tell apart functions of the same source that
   * differ only in what they close over.
   */
  name?: string;
  /**
   * For a decorated instance method (required there): what tells instances
   * apart, as a function of the instance whose result joins the key (keyed
   * like an argument), e.g. `(api) => api.baseUrl`; or `null` to share
   * results between every instance. Static methods and plain functions
   * ignore `this`.
   */
  instanceKey?: ((self: never) => unknown) | null;
  /**
   * Seconds after which a call still in flight is no longer shared: a new
   * call with the same arguments starts a fresh execution instead of
   * waiting for it, so a promise that never settles cannot block its key
   * forever. Callers already waiting keep waiting for the original call,
   * and get its outcome if it ever comes; that outcome is not cached (the
   * fresh call's is). Fractions allowed; at most 2147483.647 (about 24.8
   * days, the longest timer Node.js keeps); `Infinity` means no timeout.
   * @default undefined (a call is shared until it settles, or until `clear()`)
   */
  inFlightTimeout?: number;
}

/** A memoized function: the original's signature, plus cache helpers. */
export type Memoized<F extends (...args: never[]) => unknown> = F & {
  /**
   * Removes every cached result of this function, and forgets its calls in
   * flight: the next call computes anew rather than joining one of them.
   * Callers already waiting for a forgotten call still get its outcome,
   * which is not cached (it may have been computed from data the clear
   * meant to invalidate). Returns how many entries were removed.
   */
  clear(): number;
  /** The store key a call with these arguments reads and writes. */
  keyFor(...args: Parameters<F>): string;
};

/**
 * A function memoized into an async store: the original's arguments, its
 * result as a promise (a lookup is I/O), plus cache helpers.
 */
export type AsyncMemoized<F extends (...args: never[]) => unknown> = ((...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>) & {
  /** See {@link Memoized}'s `clear`; resolves to how many entries were removed. */
  clear(): Promise<number>;
  /** The store key a call with these arguments reads and writes. */
  keyFor(...args: Parameters<F>): string;
};

/** What {@link scache} returns for an async store: wrappers returning promises; also a method decorator. */
export interface AsyncScacheWrapper {
  <F extends (...args: never[]) => unknown>(fn: F): AsyncMemoized<F>;
  /** A standard (TC39) method decorator. */
  <F extends (...args: never[]) => unknown>(fn: F, context: ClassMethodDecoratorContext): F;
  /** A legacy (`experimentalDecorators`) method decorator. */
  <T>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T>;
}

/** What {@link scache} returns: a wrapper factory that also works as a method decorator. */
export interface ScacheWrapper {
  <F extends (...args: never[]) => unknown>(fn: F): Memoized<F>;
  /** A standard (TC39) method decorator. */
  <F extends (...args: never[]) => unknown>(fn: F, context: ClassMethodDecoratorContext): F;
  /** A legacy (`experimentalDecorators`) method decorator. */
  <T>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T>;
}

/** How a cached result is stored: the value, and whether the function returned it through a promise. */
interface Entry {
  value?: unknown;
  async?: true;
}

const MISS = Symbol('miss');
const KEY_PREFIX = 'scache:';
/** The longest delay `setTimeout` honours; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;


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
  assertOptionsObject(given, ['ttl', 'store', 'conditionalKey', 'keyFunc', 'name', 'inFlightTimeout', 'instanceKey'], 'scache: ');
  const { ttl, store, conditionalKey, keyFunc, name, inFlightTimeout, instanceKey } = options;
  if (instanceKey !== undefined && instanceKey !== null && typeof instanceKey !== 'function') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `scache: option "instanceKey" must be a function or null, got ${describe(instanceKey)}`);
  }
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
  if (inFlightTimeout !== undefined) {
    if (typeof inFlightTimeout !== 'number') {
      throw new KVTypeError(
        'ERR_KV_INVALID_OPTION',
        `scache: option "inFlightTimeout" must be a number of seconds, got ${describe(inFlightTimeout)}`,
      );
    }
    if (!(inFlightTimeout > 0) || (inFlightTimeout * 1000 > MAX_TIMER_MS && inFlightTimeout !== Infinity)) {
      throw new KVRangeError(
        'ERR_KV_INVALID_OPTION',
        `scache: option "inFlightTimeout" must be a positive number of seconds, at most ${MAX_TIMER_MS / 1000} (or Infinity), got ${inFlightTimeout}`,
      );
    }
  }
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
 * - The key is computed when the call is made, before the function runs:
 *   an argument mutated while an async call is in flight (or by the
 *   function itself) does not move its result, which is cached under the
 *   key of the arguments as they were at the call.
 * - Concurrent calls with the same key share one execution while the first
 *   is in flight: until it settles, until `clear()`, or for at most
 *   `inFlightTimeout` seconds. Callers already waiting keep waiting for
 *   the original call; a call no longer shared does not cache its outcome.
 * - A result always reaches its caller. One the store cannot keep (it
 *   cannot serialize it, the store was closed meanwhile, the write failed)
 *   is returned but not cached, and a warning
 *   (`DRIZZLE_KV_SCACHE_NOT_STORED`) is emitted once per function.
 * - A cached entry the store cannot decode (`ERR_KV_DESERIALIZE`, a damaged
 *   row) is a miss: the function runs, its result overwrites the entry,
 *   and a warning (`DRIZZLE_KV_SCACHE_DAMAGED`) is emitted once per function.
 *
 * Keys look like `scache:<name>:<sha256 of name and arguments>`, so one
 * function's entries share the prefix `scache:<name>:`. An argument with no
 * deterministic encoding (a function, a symbol, a class instance without
 * `toJSON`, a cycle, a symbol-keyed or non-enumerable own property,
 * nesting deeper than 1000 levels) is refused with
 * `ERR_KV_UNKEYABLE_ARGUMENT` before the function runs; pass a `keyFunc`.
 *
 * @example
 * ```ts
 * const fetchUser = scache({ ttl: 3600, store })(async (id: number) => api.user(id));
 * class Api {
 *   @scache({ ttl: 60, store }) async load(id: string) { ... }
 * }
 * ```
 */
export function scache<A extends unknown[] = unknown[]>(options: ScacheOptions<A> & { store: AsyncMemoStore }): AsyncScacheWrapper;
export function scache<A extends unknown[] = unknown[]>(options?: ScacheOptions<A> & { store?: MemoStore }): ScacheWrapper;
export function scache<A extends unknown[] = unknown[]>(options: ScacheOptions<A> = {}): ScacheWrapper | AsyncScacheWrapper {
  const { ttl, store: givenStore, conditionalKey, keyFunc, name: givenName, inFlightTimeout, instanceKey } = resolveOptions(options);
  const inFlightMs = inFlightTimeout === undefined || inFlightTimeout === Infinity ? undefined : Math.max(1, Math.ceil(inFlightTimeout * 1000));

  /** The decorator's view of a method: its name, whether it is static, and (legacy) its class. */
  interface Method {
    readonly name: string | symbol;
    readonly isStatic: boolean;
    /** Known at decoration time with legacy decorators; found at the first instance with standard ones. */
    readonly owner?: string;
    readonly addInitializer?: (init: (this: unknown) => void) => void;
  }

  function wrapFunction<F extends (...args: never[]) => unknown>(fn: F, method?: Method): Memoized<F> {
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `scache: expected a function to wrap, got ${describe(fn)}`);
    }
    if (method !== undefined && !method.isStatic && instanceKey === undefined) {
      throw new KVTypeError(
        'ERR_KV_INVALID_OPTION',
        `scache: the cached method ${String(method.name)} may answer differently for each instance; say what tells instances apart ` +
          'with the "instanceKey" option, e.g. @scache({ instanceKey: (self) => self.baseUrl }), or share results between instances with instanceKey: null',
      );
    }
    // The namespace's label: the name given, or the function's (a class's, for a method) and a hash of its source.
    let label: string | undefined = givenName;
    let owner = method?.owner;
    if (label === undefined && method !== undefined && typeof method.name !== 'string') {
      throw new KVRangeError('ERR_KV_INVALID_OPTION', 'scache: a method with a symbol name needs the "name" option');
    }
    if (label === undefined && method?.addInitializer !== undefined && owner === undefined) {
      const methodName = method.name as string;
      // Named by the class that defines the method: the first object up the prototype chain of
      // the first instance (or of the class, for a static method) that holds this very wrapper.
      method.addInitializer(function (this: unknown) {
        if (owner !== undefined) return;
        let holder: object | null = this as object;
        while (holder !== null && !(Object.hasOwn(holder, methodName) && (holder as Record<string, unknown>)[methodName] === memoized)) {
          holder = Object.getPrototypeOf(holder) as object | null;
        }
        const ctor = typeof holder === 'function' ? holder : (holder as { constructor?: { name?: string } } | null)?.constructor;
        owner = ctor?.name || 'anonymous';
      });
    }
    const namespace = () => {
      if (label === undefined) {
        if (method !== undefined && owner === undefined) {
          throw new KVRangeError('ERR_KV_INVALID_OPTION', 'scache: the method has no class yet; construct an instance first');
        }
        const base = method === undefined ? fn.name || 'anonymous' : `${owner}.${String(method.name)}`;
        label = `${base.replaceAll(':', '_')}#${sha256(Function.prototype.toString.call(fn)).slice(0, 16)}`;
      }
      return `${KEY_PREFIX}${label}:`;
    };
    const call = fn as unknown as (this: unknown, ...args: unknown[]) => unknown;
    const store = (): MemoStore | AsyncMemoStore => givenStore ?? defaultStore();
    // The calls new callers may join, by key. A call leaves it when it settles, when clear() forgets
    // it, or when inFlightTimeout passes; only a call that leaves by settling caches its outcome.
    const inFlight = new Map<string, Promise<unknown>>();
    const warned = { notStored: false, damaged: false };

    /** What of `self` joins the key: nothing for a plain function, a static method or instanceKey: null. */
    const instancePart = (self: unknown): string =>
      method === undefined || method.isStatic || instanceKey === null || instanceKey === undefined
        ? ''
        : `\u0000${encodeArguments([(instanceKey as (self: unknown) => unknown)(self)])}`;

    const keyFor = (self: unknown, args: unknown[]): string => {
      const prefix = namespace();
      if (keyFunc === undefined) return prefix + sha256(`${label}\u0000${encodeArguments(args)}${instancePart(self)}`);
      const custom = keyFunc(fn, args as A);
      if (typeof custom !== 'string') {
        throw new KVTypeError('ERR_KV_INVALID_KEY', `scache: keyFunc must return a string, got ${describe(custom)}`);
      }
      const self_ = instancePart(self);
      return prefix + custom + (self_ === '' ? '' : `:${sha256(self_)}`);
    };

    const warnOnce = (kind: keyof typeof warned, message: string, code: string): void => {
      if (warned[kind]) return;
      warned[kind] = true;
      process.emitWarning(message, { code, detail: 'Later occurrences for this function are not reported again.' });
    };

    const notStored = (err: unknown): void => {
      // Whatever went wrong (a value the serializer refuses, a store closed while the function ran, a
      // full disk), the caller still gets its result; the cache just could not keep it.
      const why = err instanceof Error ? err.message : describe(err);
      warnOnce('notStored', `scache: a result of ${label ?? fn.name} was not cached: ${why}`, 'DRIZZLE_KV_SCACHE_NOT_STORED');
    };

    /** Stores a result; on an async store, the promise settles when it is written (never rejects). */
    const remember = (kv: MemoStore | AsyncMemoStore, key: string, entry: Entry): void | Promise<void> => {
      try {
        const written = kv.set(key, entry, ttl);
        if (isThenable(written)) return Promise.resolve(written).then(undefined, notStored);
      } catch (err) {
        notStored(err);
      }
    };

    /** A damaged entry is a miss, reported once: computing it again and overwriting it repairs it. */
    const damaged = (err: unknown): typeof MISS => {
      if (!isKVError(err) || err.code !== 'ERR_KV_DESERIALIZE') throw err;
      warnOnce('damaged', `scache: a cached result of ${label ?? fn.name} could not be read, so it is computed again: ${err.message}`, 'DRIZZLE_KV_SCACHE_DAMAGED');
      return MISS;
    };

    /** Makes `run` the call others with `key` join until it settles (or clear(), or the timeout); `run` learns whether it still is. */
    const share = (key: string, run: (stillShared: () => boolean) => Promise<unknown>): Promise<unknown> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      // eslint-disable-next-line prefer-const -- leave() reads it, and runs only after it is assigned
      let shared: Promise<unknown> | undefined;
      /** Ends the call's sharing; true if it was still shared (not forgotten by clear() or the timeout). */
      const leave = (): boolean => {
        if (timer !== undefined) clearTimeout(timer);
        if (shared === undefined || inFlight.get(key) !== shared) return false;
        inFlight.delete(key);
        return true;
      };
      shared = run(leave).finally(leave);
      inFlight.set(key, shared);
      if (inFlightMs !== undefined) {
        timer = setTimeout(() => {
          if (inFlight.get(key) === shared) inFlight.delete(key);
        }, inFlightMs);
        timer.unref(); // a call that never settles must not keep the process alive either
      }
      return shared;
    };

    /** On an async store: awaits the entry's read; a miss runs the function and stores its result before answering. */
    const lookUp = async (self: unknown, args: unknown[], kv: AsyncMemoStore, key: string, read: PromiseLike<unknown>, leave: () => boolean) => {
      const found = await Promise.resolve(read).then(undefined, damaged);
      if (found !== MISS && isEntry(found)) return found.value;
      const result = call.apply(self, args);
      const value = await result;
      if (leave()) await remember(kv, key, isThenable(result) ? { value, async: true } : { value });
      return value;
    };

    /**
     * A call on an async store whose conditional key is being read (`flag`).
     * The key is computed and the call shared before anything is awaited, so
     * concurrent callers join one execution, as on a sync store.
     */
    const switchedCall = (self: unknown, args: unknown[], kv: AsyncMemoStore, flag: PromiseLike<unknown>): Promise<unknown> => {
      let key: string;
      try {
        key = keyFor(self, args);
      } catch (err) {
        // An unkeyable argument does not matter while caching is off.
        return Promise.resolve(flag).then((f) => (f === false || f === 0 ? call.apply(self, args) : Promise.reject(err)));
      }
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;
      return share(key, async (leave) => {
        const off = await flag;
        if (off === false || off === 0) {
          leave(); // not cached, so not shared either
          return call.apply(self, args);
        }
        return lookUp(self, args, kv, key, kv.get(key, MISS), leave);
      });
    };

    function memoized(this: unknown, ...args: unknown[]): unknown {
      const kv = store();
      let flag: unknown;
      if (conditionalKey !== undefined) {
        flag = kv.get(conditionalKey, undefined);
        if (isThenable(flag)) return switchedCall(this, args, kv as AsyncMemoStore, flag);
        if (flag === false || flag === 0) return call.apply(this, args);
      }
      const key = keyFor(this, args);
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;
      let found: unknown;
      try {
        found = kv.get(key, MISS);
      } catch (err) {
        found = damaged(err);
      }
      if (isThenable(found)) {
        const read = found;
        return share(key, (leave) => lookUp(this, args, kv as AsyncMemoStore, key, read, leave));
      }
      if (found !== MISS && isEntry(found)) return found.async ? Promise.resolve(found.value) : found.value;

      const result = call.apply(this, args);
      if (!isThenable(result)) {
        remember(kv, key, { value: result });
        return result;
      }
      return share(key, async (leave) => {
        const value = await result;
        if (leave()) remember(kv, key, { value, async: true });
        return value;
      });
    }

    Object.defineProperties(memoized, {
      name: { value: fn.name, configurable: true },
      length: { value: fn.length, configurable: true },
    });
    return Object.assign(memoized, {
      clear: () => {
        inFlight.clear();
        return store().clear({ prefix: namespace() });
      },
      // For a method: `instance.method.keyFor.call(instance, ...args)`.
      keyFor(this: unknown, ...args: unknown[]) {
        return keyFor(this === memoized ? undefined : this, args);
      },
    }) as unknown as Memoized<F>;
  }

  /** Both decorator protocols and plain wrapping: told apart by their arguments. */
  function wrap(fn: unknown, context?: unknown, descriptor?: unknown): unknown {
    if ((typeof context === 'string' || typeof context === 'symbol') && typeof descriptor === 'object' && descriptor !== null) {
      // Legacy decorators: (prototype or class, name, descriptor) → a descriptor.
      const { value } = descriptor as PropertyDescriptor;
      const isStatic = typeof fn === 'function';
      const ctor = (isStatic ? fn : (fn as { constructor?: unknown } | null)?.constructor) as { name?: string } | undefined;
      const wrapped = wrapFunction(value as (...args: never[]) => unknown, { name: context, isStatic, owner: ctor?.name || 'anonymous' });
      return { ...(descriptor as PropertyDescriptor), value: wrapped };
    }
    if (typeof context === 'object' && context !== null && 'kind' in context) {
      const decorator = context as ClassMethodDecoratorContext;
      if (decorator.kind !== 'method') {
        throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `scache: decorates methods, not a ${String(decorator.kind)}`);
      }
      return wrapFunction(fn as (...args: never[]) => unknown, {
        name: decorator.name,
        isStatic: decorator.static,
        addInitializer: (init) => decorator.addInitializer(init),
      });
    }
    return wrapFunction(fn as (...args: never[]) => unknown);
  }

  return wrap as ScacheWrapper;
}
