/**
 * `drizzle-kv/keyv`: a [Keyv](https://keyv.org) 5 storage adapter on drizzle-kv,
 * so that Keyv, and what is built on it (cache-manager, cacheable, …), keeps
 * its entries in a drizzle-kv store: a SQLite file shared by many processes,
 * or any async store (PostgreSQL, libSQL, SQLite).
 *
 * @example
 * ```ts
 * import Keyv from 'keyv';
 * import { KeyvDrizzleKv } from 'drizzle-kv/keyv';
 *
 * const keyv = new Keyv({ store: new KeyvDrizzleKv('cache.db') });
 * await keyv.set('user:1', { name: 'Alice' }, 60_000); // ttl in milliseconds, as Keyv counts
 * await keyv.get('user:1'); // { name: 'Alice' }
 * ```
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import type { KVStoreApi, WriteOptions } from '../core/api';
import { describe } from '../core/describe';
import { KVRangeError, KVTypeError } from '../core/errors';
import { assertOptionsObject, type Clock, type KVStoreFileOptions } from '../core/options';
import { assertRuntime } from '../core/runtime';
import type { Serializer } from '../core/serializer';
import { KVStore } from '../sqlite/store';
import { escapeKey, unescapeKey } from './keys';

assertRuntime();

export { escapeKey, unescapeKey } from './keys';

const textDecoder = new TextDecoder();

/**
 * The serializer of a store that Keyv writes to: Keyv serializes every entry
 * itself (`{ value, expires }`, as JSON by default), and this keeps that text
 * as it is. It refuses anything but a string (Keyv hands the adapter objects
 * only when its `serialize` option is turned off). Its name, `'keyv'`, is
 * recorded with the store like any serializer's, so the store is never read
 * with another one.
 */
export const keyvSerializer: Serializer = {
  name: 'keyv',
  serialize(value) {
    if (typeof value !== 'string') {
      throw new KVTypeError(
        'ERR_KV_INVALID_VALUE',
        `the 'keyv' serializer stores the text Keyv serialized, got ${describe(value)} (is Keyv's serialize option turned off?)`,
      );
    }
    return value;
  },
  // PostgreSQL's value column is bytea: a string comes back as its UTF-8 bytes.
  deserialize(data) {
    return typeof data === 'string' ? data : textDecoder.decode(data);
  },
};

/**
 * A drizzle-kv store the adapter can run on: the sync SQLite `KVStore` (from
 * `drizzle-kv`, or a `KVDatabase`'s `store()`), or any `AsyncKVStore`
 * (`openStore` of `drizzle-kv/pg`, `drizzle-kv/libsql`, `drizzle-kv/sqlite`).
 * Open it with {@link keyvSerializer} for its rows to hold Keyv's own text;
 * any other serializer works too, storing that text as one of its values.
 */
export type KeyvBackingStore = KVStoreApi<'sync', unknown> | KVStoreApi<'async', unknown>;

/** Options of the adapter when it opens a SQLite file itself (a sync `KVStore`). */
export interface KeyvDrizzleKvFileOptions extends Omit<KVStoreFileOptions, 'serializer' | 'table'> {
  /** The SQLite file (`':memory:'` for a private in-memory database). */
  path: string;
  /**
   * The store's name, which is its table name.
   * @default 'keyv'
   */
  table?: string;
  /**
   * Rows read per query by `iterator()`.
   * @default 256
   */
  batchSize?: number;
}

/** Options of the adapter on a store opened by the app. */
export interface KeyvDrizzleKvStoreOptions {
  /** The store; the app keeps it, and closes it (`disconnect()` leaves it open). */
  store: KeyvBackingStore;
  /**
   * Where "now" comes from when a TTL is turned into an expiry: give the
   * store's clock if it has its own.
   * @default the global `Date.now`, looked up at each call
   */
  clock?: Clock;
  /**
   * Rows read per query by `iterator()`.
   * @default 256
   */
  batchSize?: number;
}

/** The adapter's options: a file to open, or a store opened by the app. */
export type KeyvDrizzleKvOptions = KeyvDrizzleKvFileOptions | KeyvDrizzleKvStoreOptions;

/** What the adapter tells Keyv about itself (`opts`). */
export interface KeyvDrizzleKvInfo {
  /**
   * `'sqlite'` on every engine: Keyv 5 offers `keyv.iterator()` only for
   * adapters whose `opts.dialect` is on its list, and this adapter iterates
   * on every engine.
   */
  dialect: 'sqlite';
  /** The file the adapter opened, or `''` on a store given to it. */
  url: string;
  /** The store's name (its table). */
  table: string;
  [option: string]: unknown;
}

type Awaitable<T> = T | Promise<T>;

/** The store API the adapter uses, with sync and async results alike (every call is awaited). */
interface Backing {
  readonly name: string;
  get(key: string): Awaitable<unknown>;
  set(key: string, value: unknown, options?: WriteOptions): Awaitable<void>;
  has(key: string): Awaitable<boolean>;
  delete(key: string): Awaitable<boolean>;
  getMany(keys: Iterable<string>): Awaitable<Map<string, unknown>>;
  setMany(entries: Iterable<readonly [string, unknown]>, options?: WriteOptions): Awaitable<void>;
  clear(options?: { prefix?: string }): Awaitable<number>;
  entries(options?: { prefix?: string; batchSize?: number }): Iterable<[string, unknown]> | AsyncIterable<[string, unknown]>;
  transaction(fn: (store: Backing) => unknown): unknown;
  close(): Awaitable<void>;
}

/** One step of an atomic batch, run on the transaction's store. */
type Step = (store: Backing) => Awaitable<unknown>;

const STORE_METHODS = ['get', 'set', 'has', 'delete', 'getMany', 'setMany', 'clear', 'entries', 'transaction', 'close'] as const;
const STORE_FORM_KEYS = ['store', 'clock', 'batchSize'];
const DEFAULT_TABLE = 'keyv';

function isBackingStore(value: unknown): value is KeyvBackingStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    STORE_METHODS.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')
  );
}

/** Whether a store's results are promises: every `AsyncKVStore` is async-iterable, the sync `KVStore` iterable. */
function isAsyncStore(store: KeyvBackingStore): boolean {
  return typeof (store as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}

function assertClock(clock: unknown): asserts clock is Clock | undefined {
  if (clock !== undefined && (typeof clock !== 'object' || clock === null || typeof (clock as Clock).now !== 'function')) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "clock" must be an object with a now() method, got ${describe(clock)}`);
  }
}

function assertBatchSize(batchSize: unknown): asserts batchSize is number | undefined {
  if (batchSize !== undefined && (typeof batchSize !== 'number' || !Number.isSafeInteger(batchSize) || batchSize < 1)) {
    throw new KVRangeError('ERR_KV_INVALID_OPTION', `option "batchSize" must be a positive integer, got ${describe(batchSize)}`);
  }
}

/** The expiry of a write whose TTL has already run out: nothing of it is kept. */
const EXPIRED = Symbol('expired');

/**
 * The store-side expiry of a Keyv write: exactly when Keyv's own envelope
 * says the entry expires (`expires: Date.now() + ttl`, whenever `ttl` is a
 * number), to the millisecond. `undefined`, `0` (which Keyv itself turns
 * into "no TTL"), `NaN` and `Infinity` (which Keyv's JSON records as
 * `expires: null`), and a TTL past any representable date: no expiry (the
 * store's `defaultTtl`, if it has one, applies). A negative TTL: already
 * expired, so the write removes the key.
 */
function expiryOf(ttl: unknown, now: number): number | null | typeof EXPIRED {
  if (typeof ttl !== 'number' || ttl === 0 || Number.isNaN(ttl)) return null;
  if (ttl < 0) return EXPIRED;
  const expiresAt = Math.ceil(now + ttl);
  return Number.isSafeInteger(expiresAt) ? expiresAt : null;
}

const writeOptions = (expiresAt: number | null): WriteOptions | undefined => (expiresAt === null ? undefined : { expiresAt });

/**
 * A Keyv 5 storage adapter on a drizzle-kv store.
 *
 * - Keyv's serialized text is stored as it is ({@link keyvSerializer}).
 * - TTLs (milliseconds) are kept by the store too, to the millisecond: an
 *   expired entry is never returned, by this adapter or by any other reader
 *   of the store, and is culled by later writes.
 * - Keyv prefixes keys with `namespace:`; `clear()` of a namespaced Keyv is a
 *   key-range delete of that prefix (`_` and `%` are plain characters), and
 *   `iterator(namespace)` a key-range scan, read in batches.
 * - `setMany` and `deleteMany` are atomic (one transaction).
 * - Keys holding lone UTF-16 surrogates, U+0000 or U+FFFF are stored
 *   escaped (see {@link escapeKey}), so every JavaScript string is a key, on every engine.
 *
 * Keyv sets the adapter's `namespace` from its own: give each Keyv its own
 * adapter (adapters on one store cost nothing).
 */
export class KeyvDrizzleKv implements KeyvStoreAdapter {
  /** What Keyv reads about the adapter; see {@link KeyvDrizzleKvInfo}. */
  opts: KeyvDrizzleKvInfo;
  /** The namespace Keyv gave the adapter (Keyv sets it): the one `clear()` clears. */
  namespace?: string | undefined;
  /** The drizzle-kv store the entries are kept in. */
  readonly store: KeyvBackingStore;
  readonly #backing: Backing;
  readonly #async: boolean;
  readonly #owned: boolean;
  readonly #now: () => number;
  readonly #batchSize: number | undefined;
  /** Keyv listens for `'error'` on its adapter; this one reports errors by throwing (Keyv then emits them). */
  readonly #events = new EventEmitter();

  /**
   * @param source - a SQLite file path (opened as a sync `KVStore` in the
   *   table `'keyv'`, closed by `disconnect()`); a drizzle-kv store opened by
   *   the app; or {@link KeyvDrizzleKvOptions}
   */
  constructor(source: string | KeyvBackingStore | KeyvDrizzleKvOptions) {
    let store: KeyvBackingStore;
    let clock: Clock | undefined;
    let batchSize: number | undefined;
    let url = '';
    if (typeof source === 'string') {
      store = new KVStore(source, { table: DEFAULT_TABLE, serializer: keyvSerializer });
      url = source;
      this.#owned = true;
    } else if (isBackingStore(source)) {
      store = source;
      this.#owned = false;
    } else if (typeof source === 'object' && source !== null && 'store' in source) {
      assertOptionsObject(source, STORE_FORM_KEYS, 'KeyvDrizzleKv: ');
      ({ store, clock, batchSize } = source);
      if (!isBackingStore(store)) {
        throw new KVTypeError('ERR_KV_INVALID_OPTION', `KeyvDrizzleKv: option "store" must be a drizzle-kv store (a KVStore or an AsyncKVStore), got ${describe(store)}`);
      }
      assertClock(clock);
      assertBatchSize(batchSize);
      this.#owned = false;
    } else if (typeof source === 'object' && source !== null && 'path' in source) {
      const { path, table = DEFAULT_TABLE, batchSize: given, ...fileOptions } = source;
      if ('serializer' in fileOptions) {
        throw new KVTypeError(
          'ERR_KV_INVALID_OPTION',
          "KeyvDrizzleKv: option \"serializer\" is not taken: the store keeps the text Keyv serialized (the 'keyv' serializer); give Keyv its own serialize and deserialize instead",
        );
      }
      if (typeof path !== 'string') {
        throw new KVTypeError('ERR_KV_INVALID_OPTION', `KeyvDrizzleKv: option "path" must be a file path, got ${describe(path)}`);
      }
      assertBatchSize(given);
      ({ clock } = fileOptions);
      assertClock(clock);
      batchSize = given;
      store = new KVStore(path, { ...fileOptions, table, serializer: keyvSerializer });
      url = path;
      this.#owned = true;
    } else {
      throw new KVTypeError(
        'ERR_KV_INVALID_ARGUMENT',
        `KeyvDrizzleKv: expected a SQLite file path, a drizzle-kv store, or options { path } or { store }, got ${describe(source)}`,
      );
    }
    this.store = store;
    this.#backing = store as unknown as Backing;
    this.#async = isAsyncStore(store);
    this.#now = clock === undefined ? () => Date.now() : () => clock.now();
    this.#batchSize = batchSize;
    this.opts = { dialect: 'sqlite', url, table: store.name };
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return (await this.#backing.get(escapeKey(key))) as StoredData<Value> | undefined;
  }

  /** The values of `keys`, in their order (`undefined` for a missing or expired key), read in one snapshot. */
  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    const stored = keys.map(escapeKey);
    const found = await this.#backing.getMany(stored);
    return stored.map((key) => found.get(key) as StoredData<Value | undefined>);
  }

  /**
   * Stores Keyv's serialized `value` under `key`, expiring `ttl`
   * milliseconds from now (see the class notes for `undefined`, `0` and negative TTLs).
   */
  async set(key: string, value: unknown, ttl?: number): Promise<void> {
    const stored = escapeKey(key);
    const expiresAt = expiryOf(ttl, this.#now());
    if (expiresAt === EXPIRED) await this.#backing.delete(stored);
    else await this.#backing.set(stored, value, writeOptions(expiresAt));
  }

  /**
   * Stores every entry, each with its own TTL, atomically: all of them or
   * none. A key given twice keeps its last entry.
   *
   * Keyv's `setMany()` resolves to what this returns: `true` for each entry
   * (a refused entry fails the whole call). Keyv's adapter type declares
   * `void` here, its `setMany()` `boolean[]`: the array is returned, typed `void`.
   */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const now = this.#now();
    const last = new Map<string, { value: unknown; expiresAt: number | null | typeof EXPIRED }>();
    for (const { key, value, ttl } of entries) {
      const stored = escapeKey(key);
      last.delete(stored); // re-inserted at the end: the write order follows the last occurrence
      last.set(stored, { value, expiresAt: expiryOf(ttl, now) });
    }
    const groups = new Map<number | null, [string, unknown][]>();
    const expired: string[] = [];
    for (const [key, { value, expiresAt }] of last) {
      if (expiresAt === EXPIRED) {
        expired.push(key);
        continue;
      }
      let group = groups.get(expiresAt);
      if (group === undefined) groups.set(expiresAt, (group = []));
      group.push([key, value]);
    }
    const steps: Step[] = [...groups].map(([expiresAt, group]) => (store) => store.setMany(group, writeOptions(expiresAt)));
    for (const key of expired) steps.push((store) => store.delete(key));
    await this.#atomically(steps);
    return entries.map(() => true) as unknown as void;
  }

  /** @returns whether `key` held a live entry */
  async delete(key: string): Promise<boolean> {
    return this.#backing.delete(escapeKey(key));
  }

  /**
   * Deletes every key of `keys`, atomically.
   *
   * @returns whether any of them held a live entry (as Keyv's own adapters answer)
   */
  async deleteMany(keys: string[]): Promise<boolean> {
    const steps: Step[] = keys.map((key) => {
      const stored = escapeKey(key);
      return (store) => store.delete(stored);
    });
    return (await this.#atomically(steps)).some(Boolean);
  }

  async has(key: string): Promise<boolean> {
    return this.#backing.has(escapeKey(key));
  }

  /** Whether each key of `keys` holds a live entry, in their order, read in one snapshot. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    const stored = keys.map(escapeKey);
    const found = await this.#backing.getMany(stored);
    return stored.map((key) => found.has(key));
  }

  /**
   * Deletes the entries of the adapter's {@link KeyvDrizzleKv.namespace}
   * (a key-range delete of `namespace:`), or without one every entry of the store.
   */
  async clear(): Promise<void> {
    const namespace = this.namespace;
    await this.#backing.clear(namespace ? { prefix: escapeKey(`${namespace}:`) } : undefined);
  }

  /**
   * The live `[key, value]` pairs of `namespace` (every entry without one),
   * in key order, read `batchSize` rows at a time; keys as Keyv wrote them,
   * with their `namespace:` prefix.
   */
  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const options: { prefix?: string; batchSize?: number } = {};
    if (namespace) options.prefix = escapeKey(`${namespace}:`);
    if (this.#batchSize !== undefined) options.batchSize = this.#batchSize;
    for await (const [key, value] of this.#backing.entries(options)) {
      yield [unescapeKey(key), value as Awaited<Value>];
    }
  }

  /** Closes the store if the adapter opened it (from a path); a store given to it stays open. */
  async disconnect(): Promise<void> {
    if (this.#owned) await this.#backing.close();
  }

  /** Adds a listener, as on an `EventEmitter` (Keyv adds one for `'error'`). */
  on(event: string, listener: (...args: unknown[]) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Adds a listener called once. */
  once(event: string, listener: (...args: unknown[]) => void): this {
    this.#events.once(event, listener);
    return this;
  }

  /** Removes a listener. */
  off(event: string, listener: (...args: unknown[]) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  /** Calls the listeners of `event`; whether it had any. */
  emit(event: string, ...args: unknown[]): boolean {
    return this.#events.emit(event, ...args);
  }

  /** Runs `steps` in one transaction of the store (a single step needs none), returning their results. */
  async #atomically(steps: readonly Step[]): Promise<unknown[]> {
    const store = this.#backing;
    if (steps.length === 0) return [];
    if (steps.length === 1) return [await (steps[0] as Step)(store)];
    if (!this.#async) return store.transaction((tx) => steps.map((step) => step(tx))) as unknown[];
    return (await store.transaction(async (tx) => {
      const results: unknown[] = [];
      for (const step of steps) results.push(await step(tx));
      return results;
    })) as unknown[];
  }
}
