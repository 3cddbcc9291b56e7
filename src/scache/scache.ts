import { encodeArguments, sha256 } from './cache-key';
import { KVRangeError, KVTypeError, isKVError } from '../core/errors';
import { type Clock, assertOptionsObject } from '../core/options';
import type { ListOptions, WriteOptions } from '../core/api';
import { ENTRY_PREFIX, LEASE_PREFIX, type Lease, LeaseProtocol, type LeaseStore, type Protocol, leaseKeyOf, runAsync, runSync } from './lease';
import { defaultStore } from './default-store';
import { describe } from '../core/describe';
import { type Ttl, expiryFromTtl } from '../core/ttl';

/**
 * What scache needs of a store: any store with the same semantics
 * (a `KVStore`, or another implementation of this contract).
 */
export interface MemoStore {
  get<D>(key: string, defaultValue: D): unknown;
  set(key: string, value: unknown, ttl?: Ttl | WriteOptions): void;
  clear(options?: ListOptions): number;
  /** Needed by the `lease` option (an atomic add-if-missing, as `KVStore#add`). */
  add?(key: string, value: unknown, ttl?: Ttl): boolean;
  /** Needed by the `lease` option. */
  delete?(key: string): boolean;
  /** Needed by the `lease` option: runs `fn` atomically (as `KVStore#transaction`). */
  transaction?<T>(fn: (store: MemoStore) => T): T;
}

/**
 * What scache needs of an async store (an `AsyncKVStore` on any engine):
 * the same methods, answering with promises. Its wrappers return promises.
 */
export interface AsyncMemoStore {
  get<D>(key: string, defaultValue: D): Promise<unknown>;
  set(key: string, value: unknown, ttl?: Ttl | WriteOptions): Promise<void>;
  clear(options?: ListOptions): Promise<number>;
  /** Needed by the `lease` option (an atomic add-if-missing, as `AsyncKVStore#add`). */
  add?(key: string, value: unknown, ttl?: Ttl): Promise<boolean>;
  /** Needed by the `lease` option. */
  delete?(key: string): Promise<boolean>;
  /** Needed by the `lease` option: runs `fn` atomically (as `AsyncKVStore#transaction`). */
  transaction?<T>(fn: (store: AsyncMemoStore) => Promise<T>): Promise<T>;
}

/** Options of {@link scache}. */
export interface ScacheOptions<A extends unknown[] = unknown[]> {
  /**
   * Tags of every cached result (the store's `invalidateTag(tag)` then
   * removes them at once), or a function of the call's arguments giving them.
   * @default undefined (untagged)
   */
  tags?: readonly string[] | ((...args: A) => Iterable<string>);
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
  /**
   * Stampede protection across processes. On a miss, a caller first takes a
   * lease in the store (an atomic `add` of the key `scache-lease:<name>:…`,
   * living `ttl` seconds on the store's clock): of many processes missing the
   * same key at once, one computes; the others wait for its result, polling
   * the entry every 10 ms, doubling to 200 ms. A lease gone without a result
   * (its holder failed, or crashed and the lease expired) is taken again by
   * a waiter, which computes. Past `timeout` seconds of waiting (real time) a
   * caller computes itself, so none waits forever. Give a `ttl` longer than
   * the function usually runs: a lease that expires mid-computation lets
   * another process compute too.
   *
   * Waiting never blocks the event loop on an async store, nor for a function
   * known to return promises (an `async` function, or one that returned a
   * promise before). A sync function on a sync store must return its value
   * from within the call, so its wait blocks the thread (`Atomics.wait`).
   * Within one process, concurrent calls still share one execution without a
   * lease. The store must have `add`, `delete` and `transaction` (every store
   * of this library has). A number is the `ttl`.
   *
   * `ttl` and `timeout` are positive, finite, at most 2147483.647 seconds.
   * @default undefined (no lease: every process that misses computes)
   */
  lease?: number | { ttl: number; timeout?: number };
  /**
   * Stale-while-revalidate, in seconds (requires `ttl`): an entry is kept
   * `ttl + staleWhileRevalidate` seconds in the store and is fresh for the
   * first `ttl`. A stale hit returns the stale result at once and starts one
   * refresh in the background (one per key in a process; with `lease`, one
   * across processes); a failed refresh is reported once per function as the
   * warning `DRIZZLE_KV_SCACHE_REFRESH_FAILED`, and its error is never cached.
   * Only a call answered through a promise can refresh in the background: a
   * sync function on a sync store recomputes a stale result within the call,
   * as on a miss. `Infinity` keeps entries forever, refreshed once stale.
   * @default undefined (an entry is dropped when `ttl` passes)
   */
  staleWhileRevalidate?: number;
  /**
   * The clock `staleWhileRevalidate` tells fresh from stale by (epoch
   * milliseconds). Give the store's own when it has a custom one (a store
   * does not expose its clock), so freshness and expiry agree.
   * @default Date.now
   */
  clock?: Clock;
}

/** What a memoized function has counted since it was made or its last `resetStats()` (this process only). */
export interface ScacheStats {
  /** Calls answered by a fresh entry of the store. */
  readonly hits: number;
  /** Calls that found no usable entry (missing, expired, unreadable, or stale where it cannot be served). */
  readonly misses: number;
  /** Calls answered by a stale entry under `staleWhileRevalidate` (not counted as hits). */
  readonly stale: number;
  /** Times this process ran the function: for misses, background refreshes, and calls with caching switched off. */
  readonly computed: number;
  /** Calls that waited for another caller's lease (once per call, however long it polled). */
  readonly waited: number;
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
  /**
   * What this function has counted in this process since it was made or
   * since `resetStats()`: fresh `hits`, `misses`, `stale` results served
   * under `staleWhileRevalidate`, times it was `computed`, and calls that
   * `waited` for another process's lease. A call that joins a call of this
   * process in flight counts in none of them. A copy: later calls do not change it.
   */
  stats(): ScacheStats;
  /** Sets every count of `stats()` back to zero. */
  resetStats(): void;
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
  /** See {@link Memoized}'s `stats`. */
  stats(): ScacheStats;
  /** Sets every count of `stats()` back to zero. */
  resetStats(): void;
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

/**
 * How a cached result is stored: the value, whether the function returned it
 * through a promise, and (under `staleWhileRevalidate`) when it stops being
 * fresh, in epoch milliseconds. An entry without `fresh` is fresh until the
 * store expires it (entries written before the option existed, or without it).
 */
interface Entry {
  value?: unknown;
  async?: true;
  fresh?: number;
}

const MISS = Symbol('miss');
const KEY_PREFIX = ENTRY_PREFIX;
/** The longest delay `setTimeout` honours; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const ENTRY_FIELDS = new Set(['value', 'async', 'fresh']);
/** Every plain `async function` (not every function returning a promise) is one of these. */
const AsyncFunction = (async () => {}).constructor;

function isEntry(found: unknown): found is Entry {
  return (
    typeof found === 'object' &&
    found !== null &&
    Object.keys(found).every((k) => ENTRY_FIELDS.has(k)) &&
    ((found as Entry).fresh === undefined || typeof (found as Entry).fresh === 'number')
  );
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

/** A number of seconds for `what`: positive, finite, at most what a timer takes. */
function assertSeconds(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `scache: ${what} must be a number of seconds, got ${describe(value)}`);
  }
  if (!(value > 0) || !(value * 1000 <= MAX_TIMER_MS)) {
    throw new KVRangeError(
      'ERR_KV_INVALID_OPTION',
      `scache: ${what} must be a positive, finite number of seconds, at most ${MAX_TIMER_MS / 1000}, got ${value}`,
    );
  }
}

/** The `lease` option, checked and resolved: its `timeout` defaults to twice its `ttl`. */
function resolveLease(lease: unknown): Lease | undefined {
  if (lease === undefined) return undefined;
  if (typeof lease === 'number') {
    assertSeconds(lease, 'option "lease"');
    return { ttl: lease, timeoutMs: Math.ceil(2 * lease * 1000) };
  }
  if (typeof lease !== 'object' || lease === null || Array.isArray(lease)) {
    throw new KVTypeError(
      'ERR_KV_INVALID_OPTION',
      `scache: option "lease" must be a number of seconds or { ttl, timeout? }, got ${describe(lease)}`,
    );
  }
  assertOptionsObject(lease, ['ttl', 'timeout'], 'scache: option "lease": ');
  const { ttl, timeout } = lease;
  assertSeconds(ttl, 'option "lease.ttl"');
  if (timeout !== undefined) assertSeconds(timeout, 'option "lease.timeout"');
  return { ttl, timeoutMs: Math.ceil((timeout ?? 2 * ttl) * 1000) };
}

/** What {@link scache} works with once its options are checked. */
interface Resolved<A extends unknown[]> extends ScacheOptions<A> {
  readonly leaseOption: Lease | undefined;
}

function resolveOptions<A extends unknown[]>(options: ScacheOptions<A>): Resolved<A> {
  const given: unknown = options; // checked as it came in, whatever its static type says
  assertOptionsObject(
    given,
    ['ttl', 'store', 'conditionalKey', 'keyFunc', 'name', 'inFlightTimeout', 'instanceKey', 'lease', 'staleWhileRevalidate', 'clock', 'tags'],
    'scache: ',
  );
  const { ttl, store, conditionalKey, keyFunc, name, inFlightTimeout, instanceKey, lease, staleWhileRevalidate, clock } = options;
  const { tags } = options;
  if (tags !== undefined && typeof tags !== 'function' && !(Array.isArray(tags) && tags.every((t) => typeof t === 'string'))) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `scache: option "tags" must be an array of strings or a function of the arguments, got ${describe(tags)}`);
  }
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
  const leaseOption = resolveLease(lease);
  if (leaseOption !== undefined && store !== undefined) {
    const missing = ['add', 'delete', 'transaction'].filter((m) => typeof (store as unknown as Record<string, unknown>)[m] !== 'function');
    if (missing.length > 0) {
      throw new KVTypeError(
        'ERR_KV_INVALID_OPTION',
        `scache: option "lease" needs a store with add, delete and transaction methods; the store given lacks ${missing.join(', ')}`,
      );
    }
  }
  if (staleWhileRevalidate !== undefined) {
    if (typeof staleWhileRevalidate !== 'number') {
      throw new KVTypeError(
        'ERR_KV_INVALID_OPTION',
        `scache: option "staleWhileRevalidate" must be a number of seconds, got ${describe(staleWhileRevalidate)}`,
      );
    }
    if (!(staleWhileRevalidate > 0)) {
      throw new KVRangeError(
        'ERR_KV_INVALID_OPTION',
        `scache: option "staleWhileRevalidate" must be a positive number of seconds (or Infinity), got ${staleWhileRevalidate}`,
      );
    }
    if (ttl === undefined || ttl === null || ttl === Infinity) {
      throw new KVTypeError(
        'ERR_KV_INVALID_OPTION',
        `scache: option "staleWhileRevalidate" needs a finite "ttl" (how long a result is fresh), got ttl ${describe(ttl)}`,
      );
    }
    if (staleWhileRevalidate !== Infinity && !Number.isSafeInteger(Date.now() + Math.ceil((ttl + staleWhileRevalidate) * 1000))) {
      throw new KVRangeError(
        'ERR_KV_INVALID_OPTION',
        `scache: "ttl" + "staleWhileRevalidate" (${ttl} + ${staleWhileRevalidate} s) is too large to store; use Infinity to keep stale results forever`,
      );
    }
  }
  if (clock !== undefined && ((typeof clock !== 'object' && typeof clock !== 'function') || clock === null || typeof (clock as Partial<Clock>).now !== 'function')) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `scache: option "clock" must be an object with a now() method, got ${describe(clock)}`);
  }
  return { ...options, leaseOption };
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
 * - With `lease`, processes that miss the same key at once compute it once:
 *   one takes a lease in the store, the others wait for its result (see
 *   the option). With `staleWhileRevalidate`, a stale result is served at
 *   once while one refresh runs in the background. `stats()` counts hits,
 *   misses, stale results, runs and waits.
 *
 * Keys look like `scache:<name>:<sha256 of name and arguments>`, so one
 * function's entries share the prefix `scache:<name>:` (its leases, the
 * prefix `scache-lease:<name>:`, which no entry key can have). An argument with no
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
  const { ttl, store: givenStore, conditionalKey, keyFunc, name: givenName, inFlightTimeout, instanceKey, leaseOption, staleWhileRevalidate, clock, tags } =
    resolveOptions(options);
  /** How a result of the call with `args` is written: its store TTL, and its tags when the wrapper has some. */
  const writeOptions = (args: unknown[]): Ttl | WriteOptions => {
    if (tags === undefined) return storeTtl;
    return { ttl: storeTtl, tags: typeof tags === 'function' ? (tags as (...a: unknown[]) => Iterable<string>)(...args) : tags };
  };
  const inFlightMs = inFlightTimeout === undefined || inFlightTimeout === Infinity ? undefined : Math.max(1, Math.ceil(inFlightTimeout * 1000));
  // Under staleWhileRevalidate an entry lives ttl + staleWhileRevalidate in the store, and is fresh for ttl.
  const freshMs = Math.ceil((ttl ?? 0) * 1000);
  const storeTtl = staleWhileRevalidate === undefined || ttl === undefined || ttl === null ? ttl : ttl + staleWhileRevalidate;
  const now = (): number => (clock === undefined ? Date.now() : clock.now());

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
    // The background refreshes under staleWhileRevalidate, by key: one at a time per key, forgotten like calls in flight.
    const refreshing = new Map<string, Promise<unknown>>();
    const warned = { notStored: false, damaged: false, refresh: false, release: false };
    const counts = { hits: 0, misses: 0, stale: 0, computed: 0, waited: 0 };
    // Whether the function is known to answer through a promise: then waiting for a lease need not block.
    let returnsPromise = fn instanceof AsyncFunction;

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
    const why = (err: unknown): string => (err instanceof Error ? err.message : describe(err));

    const notStored = (err: unknown): void => {
      // Whatever went wrong (a value the serializer refuses, a store closed while the function ran, a
      // full disk), the caller still gets its result; the cache just could not keep it.
      warnOnce('notStored', `scache: a result of ${label ?? fn.name} was not cached: ${why(err)}`, 'DRIZZLE_KV_SCACHE_NOT_STORED');
    };

    const protocol =
      leaseOption === undefined
        ? undefined
        : new LeaseProtocol(
            leaseOption,
            () => counts.waited++,
            (err) =>
              warnOnce(
                'release',
                `scache: a lease of ${label ?? fn.name} could not be released, so other callers wait until it expires: ${why(err)}`,
                'DRIZZLE_KV_SCACHE_LEASE_NOT_RELEASED',
              ),
          );

    /** Stores a result; on an async store, the promise settles when it is written (never rejects). */
    const remember = (kv: MemoStore | AsyncMemoStore, key: string, value: unknown, viaPromise: boolean, args: unknown[]): void | Promise<void> => {
      try {
        const entry: Entry = viaPromise ? { value, async: true } : { value };
        // When it stops being fresh (resolveOptions made sure staleWhileRevalidate comes with a finite ttl).
        if (staleWhileRevalidate !== undefined) entry.fresh = now() + freshMs;
        const written = kv.set(key, entry, writeOptions(args));
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

    /** What a read found: a fresh entry, a stale one that may be served (staleWhileRevalidate), or nothing usable. */
    const look = (found: unknown): { readonly entry: Entry; readonly stale: boolean } | undefined => {
      if (found === MISS || !isEntry(found)) return undefined;
      if (found.async) returnsPromise = true;
      if (found.fresh === undefined || now() < found.fresh) return { entry: found, stale: false };
      // Past its freshness: served only by a wrapper that allows stale results; otherwise a miss.
      return staleWhileRevalidate === undefined ? undefined : { entry: found, stale: true };
    };

    /** The entry's read, as a step of the lease protocol: a fresh entry (what a waiter waits for), or `undefined`. */
    function* freshEntry(kv: MemoStore | AsyncMemoStore, key: string): Protocol<Entry | undefined> {
      let found: unknown;
      try {
        found = yield kv.get(key, MISS);
      } catch (err) {
        found = damaged(err);
      }
      const looked = look(found);
      return looked !== undefined && !looked.stale ? looked.entry : undefined;
    }

    /** Releases a lease this caller holds (never throws). */
    const release = (kv: MemoStore | AsyncMemoStore, key: string, token: string | undefined): Promise<void> | undefined =>
      token === undefined || protocol === undefined ? undefined : runAsync(protocol.release(kv as unknown as LeaseStore, leaseKeyOf(key), token));

    /**
     * Makes `run` the call others with `key` join in `calls` (the calls in flight, or the refreshes)
     * until it settles (or clear(), or the timeout); `run` learns whether it still is.
     */
    const share = (calls: Map<string, Promise<unknown>>, key: string, run: (stillShared: () => boolean) => Promise<unknown>): Promise<unknown> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      // eslint-disable-next-line prefer-const -- leave() reads it, and runs only after it is assigned
      let shared: Promise<unknown> | undefined;
      /** Ends the call's sharing; true if it was still shared (not forgotten by clear() or the timeout). */
      const leave = (): boolean => {
        if (timer !== undefined) clearTimeout(timer);
        if (shared === undefined || calls.get(key) !== shared) return false;
        calls.delete(key);
        return true;
      };
      shared = run(leave).finally(leave);
      calls.set(key, shared);
      if (inFlightMs !== undefined) {
        timer = setTimeout(() => {
          if (calls.get(key) === shared) calls.delete(key);
        }, inFlightMs);
        timer.unref(); // a call that never settles must not keep the process alive either
      }
      return shared;
    };

    /**
     * Runs the function and stores its result, awaiting both (any store: a sync one's
     * answers are awaited as values); then releases the lease `token`, if any, also on failure.
     */
    const compute = async (self: unknown, args: unknown[], kv: MemoStore | AsyncMemoStore, key: string, token: string | undefined, leave: () => boolean) => {
      try {
        counts.computed++;
        const result = call.apply(self, args);
        if (isThenable(result)) returnsPromise = true;
        const value = await result;
        if (leave()) await remember(kv, key, value, isThenable(result), args);
        return value;
      } finally {
        await release(kv, key, token);
      }
    };

    /** A miss, without blocking: with a lease, takes it or waits (on timers) for its holder's result; then computes. */
    const missAsync = async (self: unknown, args: unknown[], kv: MemoStore | AsyncMemoStore, key: string, leave: () => boolean) => {
      let token: string | undefined;
      if (protocol !== undefined) {
        const got = await runAsync(protocol.acquire(kv as unknown as LeaseStore, leaseKeyOf(key), () => freshEntry(kv, key)));
        if (got.kind === 'found') return got.found.value;
        if (got.kind === 'leased') token = got.token;
      }
      return compute(self, args, kv, key, token, leave);
    };

    /**
     * A miss on a sync store. Without a lease, or for a function known to return promises, as
     * before (or without blocking); else a wait for another process's lease blocks the thread.
     */
    const missSync = (self: unknown, args: unknown[], kv: MemoStore, key: string): unknown => {
      if (protocol !== undefined && returnsPromise) return share(inFlight, key, (leave) => missAsync(self, args, kv, key, leave));
      let token: string | undefined;
      if (protocol !== undefined) {
        const got = runSync(protocol.acquire(kv as unknown as LeaseStore, leaseKeyOf(key), () => freshEntry(kv, key)));
        if (got.kind === 'found') return got.found.async ? Promise.resolve(got.found.value) : got.found.value;
        if (got.kind === 'leased') token = got.token;
      }
      const releaseSync = (): void => {
        if (token !== undefined && protocol !== undefined) runSync(protocol.release(kv as unknown as LeaseStore, leaseKeyOf(key), token));
      };
      counts.computed++;
      let result: unknown;
      try {
        result = call.apply(self, args);
      } catch (err) {
        releaseSync();
        throw err;
      }
      if (!isThenable(result)) {
        remember(kv, key, result, false, args);
        releaseSync();
        return result;
      }
      returnsPromise = true;
      return share(inFlight, key, async (leave) => {
        try {
          const value = await result;
          if (leave()) remember(kv, key, value, true, args);
          return value;
        } finally {
          await release(kv, key, token);
        }
      });
    };

    /**
     * Starts one background refresh of a stale entry, unless one is running in this process (or,
     * with a lease, in another: whoever holds the lease refreshes). Its failure is reported, never cached.
     */
    const refresh = (self: unknown, args: unknown[], kv: MemoStore | AsyncMemoStore, key: string): void => {
      if (refreshing.has(key)) return;
      share(refreshing, key, async (leave) => {
        let token: string | undefined;
        if (protocol !== undefined) {
          const lease = kv as unknown as LeaseStore;
          token = await runAsync(protocol.take(lease, leaseKeyOf(key)));
          if (token === undefined) return; // another caller is computing it
          // Refreshed meanwhile by another process (which released its lease before this one was taken)?
          const fresh = await runAsync(freshEntry(kv, key)).then(undefined, async (err: unknown) => {
            await release(kv, key, token);
            throw err;
          });
          if (fresh !== undefined) {
            await release(kv, key, token);
            return;
          }
        }
        await compute(self, args, kv, key, token, leave);
      }).then(undefined, (err: unknown) =>
        warnOnce(
          'refresh',
          `scache: a background refresh of ${label ?? fn.name} failed, so its stale result is served until one succeeds: ${why(err)}`,
          'DRIZZLE_KV_SCACHE_REFRESH_FAILED',
        ),
      );
    };

    /** On an async store: awaits the entry's read; a miss runs the function (after the lease) and stores its result before answering. */
    const lookUp = async (self: unknown, args: unknown[], kv: AsyncMemoStore, key: string, read: PromiseLike<unknown>, leave: () => boolean) => {
      const looked = look(await Promise.resolve(read).then(undefined, damaged));
      if (looked !== undefined) {
        if (!looked.stale) {
          counts.hits++;
        } else {
          counts.stale++;
          refresh(self, args, kv, key);
        }
        return looked.entry.value;
      }
      counts.misses++;
      return missAsync(self, args, kv, key, leave);
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
        return Promise.resolve(flag).then((f) => (f === false || f === 0 ? uncached(self, args) : Promise.reject(err)));
      }
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;
      return share(inFlight, key, async (leave) => {
        const off = await flag;
        if (off === false || off === 0) {
          leave(); // not cached, so not shared either
          return uncached(self, args);
        }
        return lookUp(self, args, kv, key, kv.get(key, MISS), leave);
      });
    };

    /** A call while caching is switched off: the function, counted. */
    const uncached = (self: unknown, args: unknown[]): unknown => {
      counts.computed++;
      return call.apply(self, args);
    };

    function memoized(this: unknown, ...args: unknown[]): unknown {
      const kv = store();
      let flag: unknown;
      if (conditionalKey !== undefined) {
        flag = kv.get(conditionalKey, undefined);
        if (isThenable(flag)) return switchedCall(this, args, kv as AsyncMemoStore, flag);
        if (flag === false || flag === 0) return uncached(this, args);
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
        return share(inFlight, key, (leave) => lookUp(this, args, kv as AsyncMemoStore, key, read, leave));
      }
      const looked = look(found);
      if (looked !== undefined) {
        const { entry } = looked;
        if (!looked.stale) {
          counts.hits++;
          return entry.async ? Promise.resolve(entry.value) : entry.value;
        }
        if (entry.async) {
          counts.stale++;
          refresh(this, args, kv, key);
          return Promise.resolve(entry.value);
        }
        // A stale result of a sync function on a sync store: only the call itself can run the function, so it is a miss.
      }
      counts.misses++;
      return missSync(this, args, kv as MemoStore, key);
    }

    Object.defineProperties(memoized, {
      name: { value: fn.name, configurable: true },
      length: { value: fn.length, configurable: true },
    });
    return Object.assign(memoized, {
      clear: () => {
        inFlight.clear();
        refreshing.clear();
        const kv = store();
        const removed = kv.clear({ prefix: namespace() });
        if (protocol === undefined) return removed;
        // The leases go too: whoever waits for one computes anew rather than waiting for a result the clear invalidates.
        const leases = `${LEASE_PREFIX}${namespace().slice(KEY_PREFIX.length)}`;
        if (isThenable(removed)) {
          return Promise.resolve(removed).then(async (n) => {
            await kv.clear({ prefix: leases });
            return n;
          });
        }
        kv.clear({ prefix: leases });
        return removed;
      },
      // For a method: `instance.method.keyFor.call(instance, ...args)`.
      keyFor(this: unknown, ...args: unknown[]) {
        return keyFor(this === memoized ? undefined : this, args);
      },
      stats: (): ScacheStats => ({ ...counts }),
      resetStats: (): void => {
        for (const name of Object.keys(counts) as (keyof typeof counts)[]) counts[name] = 0;
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
