import { type Connection, type ConnectionSource, borrowConnection, isConnectionSource, openConnection, resolveDatabasePath } from './connection';
import { KVError, KVTypeError, KVRangeError, isKVError, isMissingTable, toKVError } from './errors';
import { type KeyRange, prefixRange, successor } from './key-range';
import { STORE_FORMAT_VERSION, ensureStore, staleStoreError } from './migrator';
import { type KVStoreFileOptions, type KVStoreOptions, type ResolvedStoreOptions, resolveFileOptions } from './options';
import { schemaProblems } from './schema-check';
import { KVRepository, type StoreGuard } from './repository';
import type { EncodedValue } from './schema/value';
import { type Ttl, assertKey, describe, expiryFromTtl, isLive } from './validate';

/** Options of {@link KVStore.keys}, {@link KVStore.values} and {@link KVStore.items}. */
export interface ListOptions {
  /** Only keys starting with this string (a key-range scan on the primary key). */
  prefix?: string;
}

/** Options of {@link KVStore.entries}. */
export interface EntriesOptions extends ListOptions {
  /**
   * Rows read per query. Between batches nothing is held open, so other
   * statements, writes included, may run while iterating.
   * @default 256
   */
  batchSize?: number;
}

/** Marks a {@link StoreBinding}, so no app object can be mistaken for one. @internal */
export const BINDING = Symbol('drizzle-kv store binding');

function isBinding(value: unknown): value is StoreBinding {
  return typeof value === 'object' && value !== null && BINDING in value;
}

/** Options for `new KVStore(connection, options)`: the store's options and the table name. */
export interface KVStoreConnectionOptions extends KVStoreOptions {
  /**
   * Name of the store, which is its table name.
   * @default 'key_value_store'
   */
  table?: string;
}

/** Checks a table the app's own migrations created (`schema: 'external'`). */
function assertExternalSchema(connection: Connection, table: string): void {
  const problems = schemaProblems(connection, table);
  if (problems.length > 0) {
    throw new KVError(
      'ERR_KV_SCHEMA_MISMATCH',
      `table "${table}" does not match kvTable("${table}"), and with schema: 'external' drizzle-kv changes nothing: ${problems.join('; ')}`,
    );
  }
}

/**
 * How a store is bound to a connection.
 * @internal
 */
export interface StoreBinding {
  readonly [BINDING]: true;
  readonly connection: Connection;
  readonly table: string;
  readonly options: ResolvedStoreOptions;
  /** Whether closing the store closes the connection (a borrowed one stays open whatever this says). */
  readonly closesConnection: boolean;
  /** Called once when the store closes. */
  readonly onClose?: (store: object) => void;
}

/** The guard that conditions a managed store's writes on the registry row this handle opened (see {@link StoreGuard}). */
function guardOf(connection: Connection, table: string, options: ResolvedStoreOptions): StoreGuard {
  const serializer = options.serializer.name;
  return { version: STORE_FORMAT_VERSION, serializer, stale: () => staleStoreError(connection, table, serializer) };
}

/** A write culls expired rows every this many writes (and on its first write)… */
const CULL_INTERVAL = 64;
/** …deleting at most twice as many as were written since the last cull, and never more than this. */
const CULL_MAX = 10_000;

/**
 * A persistent key-value store: one table of an SQLite file.
 *
 * Values are JSON by default; entries may expire after a TTL in seconds.
 * Every method is synchronous, like better-sqlite3 underneath.
 *
 * @typeParam V - the type of the values (checked at run time only by the serializer)
 *
 * @example
 * ```ts
 * using store = new KVStore('cache.db');
 * store.set('user:1', { name: 'Alice', age: 30 });
 * store.set('session:abc', { token: 'xyz' }, 3600);
 * store.get('user:1'); // { name: 'Alice', age: 30 }
 * store.get('missing', 0); // 0
 * ```
 */
export class KVStore<V = unknown> implements Disposable, Iterable<[string, V]> {
  /** The store's name, which is its table name. */
  readonly name: string;
  #repo: KVRepository | undefined;
  readonly #binding: StoreBinding;
  readonly #options: ResolvedStoreOptions;
  #untilCull = 1;
  #writesSinceCull = 0;

  /**
   * Opens (creating if needed) the store `table` in the SQLite file at
   * `path`. Parent folders are created, `~` is expanded, and `':memory:'`
   * opens a private in-memory database.
   *
   * @param path - the database file
   * @param table - the store's name @defaultValue `'key_value_store'`
   */
  constructor(path: string, table?: string);
  /**
   * Opens (creating if needed) a store in the SQLite file at `path`, with options.
   */
  constructor(path: string, options?: KVStoreFileOptions);
  /**
   * Opens (creating if needed) a store on an app's own connection: a
   * better-sqlite3 `Database` or a Drizzle database made on one. The store
   * shares its transactions and leaves its settings alone; closing the store
   * does not close it.
   */
  constructor(connection: ConnectionSource, tableOrOptions?: string | KVStoreConnectionOptions);
  /** @internal */
  constructor(binding: StoreBinding);
  constructor(
    source: string | ConnectionSource | StoreBinding,
    tableOrOptions?: string | KVStoreFileOptions | KVStoreConnectionOptions,
  ) {
    let binding: StoreBinding;
    if (isBinding(source)) {
      binding = source;
    } else {
      // Everything is validated before the file is touched.
      const borrowed = isConnectionSource(source);
      const { table, database, store } = resolveFileOptions(tableOrOptions, borrowed);
      const connection = borrowed ? borrowConnection(source) : openConnection(resolveDatabasePath(source), database);
      binding = { [BINDING]: true, connection, table, options: store, closesConnection: true };
    }
    const { connection, table, options } = binding;
    try {
      if (options.schema === 'external') assertExternalSchema(connection, table);
      else ensureStore(connection, table, options.serializer.name);
      this.#repo = new KVRepository(connection, table, options.schema === 'external' ? undefined : guardOf(connection, table, options));
    } catch (err) {
      if (binding.closesConnection) connection.close();
      throw toKVError(err, `open store "${table}"`);
    }
    this.name = table;
    this.#binding = binding;
    this.#options = options;
  }

  /**
   * The value of `key`, or `defaultValue` (`undefined` if not given) when
   * the key is missing or expired. A stored `null` is a value, not a miss.
   */
  get(key: string): V | undefined;
  get<D>(key: string, defaultValue: D): V | D;
  get(key: string, defaultValue?: unknown): unknown {
    const repo = this.#use('get');
    assertKey(key, 'get');
    try {
      const row = repo.read(key);
      if (row === undefined || !isLive(row[1], this.#now())) return defaultValue;
      return this.#decode(row[0], key);
    } catch (err) {
      throw this.#fail(err, 'get');
    }
  }

  /**
   * Stores `value` under `key`, replacing any previous value.
   *
   * @param ttl - seconds until the entry expires (fractions allowed);
   *   `null` or `Infinity` for never; omitted: the store's `defaultTtl`.
   *   Zero, negative and `NaN` are a `RangeError`.
   */
  set(key: string, value: V, ttl?: Ttl): void {
    const repo = this.#use('set');
    assertKey(key, 'set');
    const now = this.#now();
    const expiresAt = this.#expiry(ttl, now, 'set');
    const data = this.#encode(value, 'set');
    try {
      if (--this.#untilCull > 0) {
        this.#writesSinceCull++;
        repo.write(key, data, expiresAt, now);
      } else {
        repo.immediate(() => {
          repo.write(key, data, expiresAt, now);
          this.#cull(repo, now, 1);
        });
        this.#binding.connection.maintain();
      }
    } catch (err) {
      throw this.#fail(err, 'set');
    }
  }

  /**
   * Stores `value` only if `key` is missing or expired, atomically (one
   * statement, so two processes racing to add the same key cannot both win).
   *
   * @returns whether the value was stored
   */
  add(key: string, value: V, ttl?: Ttl): boolean {
    const repo = this.#use('add');
    assertKey(key, 'add');
    const now = this.#now();
    const expiresAt = this.#expiry(ttl, now, 'add');
    const data = this.#encode(value, 'add');
    try {
      return repo.writeIfAbsent(key, data, expiresAt, now);
    } catch (err) {
      throw this.#fail(err, 'add');
    }
  }

  /** Whether `key` holds a live (not expired) value. */
  has(key: string): boolean {
    const repo = this.#use('has');
    assertKey(key, 'has');
    try {
      const expiresAt = repo.expiry(key);
      return expiresAt !== undefined && isLive(expiresAt, this.#now());
    } catch (err) {
      throw this.#fail(err, 'has');
    }
  }

  /**
   * Removes `key`.
   *
   * @returns whether a live value was removed
   */
  delete(key: string): boolean {
    const repo = this.#use('delete');
    assertKey(key, 'delete');
    try {
      const expiresAt = repo.remove(key);
      return expiresAt !== undefined && isLive(expiresAt, this.#now());
    } catch (err) {
      throw this.#fail(err, 'delete');
    }
  }

  /** Removes `key` and returns its value, or `defaultValue` if it was missing or expired. Atomic. */
  pop(key: string): V | undefined;
  pop<D>(key: string, defaultValue: D): V | D;
  pop(key: string, defaultValue?: unknown): unknown {
    const repo = this.#use('pop');
    assertKey(key, 'pop');
    try {
      const row = repo.take(key);
      if (row === undefined || !isLive(row[1], this.#now())) return defaultValue;
      return this.#decode(row[0], key);
    } catch (err) {
      throw this.#fail(err, 'pop');
    }
  }

  /**
   * Gives a live entry a new TTL, counted from now (`null`/`Infinity`: never expires).
   *
   * @returns whether `key` was live
   */
  touch(key: string, ttl?: Ttl): boolean {
    const repo = this.#use('touch');
    assertKey(key, 'touch');
    const now = this.#now();
    const expiresAt = this.#expiry(ttl, now, 'touch');
    try {
      return repo.setExpiry(key, expiresAt, now);
    } catch (err) {
      throw this.#fail(err, 'touch');
    }
  }

  /**
   * Seconds until `key` expires: `Infinity` if it never does, `undefined`
   * if it is missing or already expired.
   */
  ttl(key: string): number | undefined {
    const repo = this.#use('ttl');
    assertKey(key, 'ttl');
    try {
      const expiresAt = repo.expiry(key);
      const now = this.#now();
      if (expiresAt === undefined || !isLive(expiresAt, now)) return undefined;
      return expiresAt === null ? Infinity : (expiresAt - now) / 1000;
    } catch (err) {
      throw this.#fail(err, 'ttl');
    }
  }

  /**
   * Adds `by` to the number stored under `key` and returns the result,
   * atomically across processes. A missing or expired key counts as 0 and
   * is created with the store's `defaultTtl` (none by default); an existing
   * entry keeps its expiry.
   */
  incr(key: string, by = 1): number {
    return this.#increment(key, by, 1, 'incr');
  }

  /** `incr` and `decr`: adds `sign * by`, atomically; the message names `operation` and what was passed. */
  #increment(key: string, by: number, sign: 1 | -1, operation: string): number {
    const repo = this.#use(operation);
    assertKey(key, operation);
    if (typeof by !== 'number' || !Number.isFinite(by)) {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: the amount must be a finite number, got ${describe(by)}`);
    }
    const delta = sign * by;
    try {
      return repo.immediate(() => {
        const now = this.#now();
        const row = repo.read(key);
        let current = 0;
        // A new counter takes the store's defaultTtl, like any write that passes no TTL; an existing one keeps its expiry.
        let expiresAt = this.#expiry(undefined, now, operation);
        if (row !== undefined && isLive(row[1], now)) {
          const stored = this.#decode(row[0], key);
          if (typeof stored !== 'number') {
            throw new KVError('ERR_KV_NOT_A_NUMBER', `${operation}: the value of ${describe(key)} is ${describe(stored)}, not a number`);
          }
          current = stored;
          expiresAt = row[1];
        }
        const next = current + delta;
        if (!Number.isFinite(next)) {
          throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `${operation}: ${current} + ${delta} is not a finite number`);
        }
        if (Number.isInteger(current) && Number.isInteger(delta) && !Number.isSafeInteger(next)) {
          // A counter past 2^53 would silently stop counting exactly.
          throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `${operation}: ${current} + ${delta} is beyond Number.MAX_SAFE_INTEGER`);
        }
        repo.write(key, this.#encode(next as V, operation), expiresAt, now);
        return next;
      });
    } catch (err) {
      throw this.#fail(err, operation);
    }
  }

  /** Subtracts `by` from the number stored under `key`; see {@link KVStore.incr}. */
  decr(key: string, by = 1): number {
    return this.#increment(key, by, -1, 'decr');
  }

  /** The live values of `keys`, read in one consistent snapshot. Missing and expired keys are absent from the map. */
  getMany(keys: Iterable<string>): Map<string, V> {
    const repo = this.#use('getMany');
    const list = this.#keyList(keys, 'getMany');
    try {
      return repo.snapshot(() => {
        const now = this.#now();
        const found = new Map<string, V>();
        for (const key of list) {
          const row = repo.read(key);
          if (row !== undefined && isLive(row[1], now)) found.set(key, this.#decode(row[0], key) as V);
        }
        return found;
      });
    } catch (err) {
      throw this.#fail(err, 'getMany');
    }
  }

  /**
   * Stores many entries in one transaction: all of them or, if any key or
   * value is refused, none.
   */
  setMany(entries: Iterable<readonly [string, V]> | Readonly<Record<string, V>>, ttl?: Ttl): void {
    const repo = this.#use('setMany');
    const now = this.#now();
    const expiresAt = this.#expiry(ttl, now, 'setMany');
    // Every key checked and every value encoded before the first write: a refusal writes nothing.
    const keys: string[] = [];
    const data: EncodedValue[] = [];
    const add = (key: string, value: V) => {
      assertKey(key, 'setMany');
      keys.push(key);
      data.push(this.#encode(value, 'setMany'));
    };
    if (typeof entries !== 'object' || entries === null) {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `setMany: expected [key, value] pairs or a record, got ${describe(entries)}`);
    }
    if (Symbol.iterator in entries) {
      for (const entry of entries as Iterable<unknown>) {
        if (!Array.isArray(entry)) {
          throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `setMany: each entry must be a [key, value] pair, got ${describe(entry)}`);
        }
        add(entry[0] as string, entry[1] as V);
      }
    } else {
      for (const [key, value] of Object.entries(entries as Record<string, V>)) add(key, value);
    }
    try {
      repo.immediate(() => {
        for (let i = 0; i < keys.length; i++) repo.write(keys[i] as string, data[i] as EncodedValue, expiresAt, now);
        this.#cull(repo, now, keys.length);
      });
      this.#binding.connection.maintain();
    } catch (err) {
      throw this.#fail(err, 'setMany');
    }
  }

  /** The live keys, in key order. */
  keys(options?: ListOptions): string[] {
    const repo = this.#use('keys');
    const range = this.#range(options, 'keys');
    try {
      return repo.keys(range, this.#now());
    } catch (err) {
      throw this.#fail(err, 'keys');
    }
  }

  /** The live values, in key order. */
  values(options?: ListOptions): V[] {
    return this.#decodedRows(options, 'values').map((entry) => entry[1]);
  }

  /** The live `[key, value]` pairs, in key order. */
  items(options?: ListOptions): [string, V][] {
    return this.#decodedRows(options, 'items');
  }

  /**
   * Iterates over the live entries in key order, reading them in batches, so
   * a store of any size is never loaded into memory at once. Each key is
   * visited at most once; entries written during the iteration may or may
   * not be seen, depending on where they fall.
   */
  entries(options?: EntriesOptions): IterableIterator<[string, V]> {
    this.#use('entries');
    const range = this.#range(options, 'entries');
    const batchSize = options?.batchSize ?? 256;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `entries: batchSize must be a positive integer, got ${describe(batchSize)}`);
    }
    return this.#iterate(range, batchSize);
  }

  /** Same as {@link KVStore.entries} with default options: `for (const [key, value] of store)`. */
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  /** The number of live entries (a count over the table: O(n)). */
  get size(): number {
    const repo = this.#use('size');
    try {
      return repo.count(this.#now());
    } catch (err) {
      throw this.#fail(err, 'size');
    }
  }

  /**
   * Removes every entry, or with `prefix` every entry whose key starts with it.
   *
   * @returns how many rows were removed (expired rows not yet purged included)
   */
  clear(options?: ListOptions): number {
    const repo = this.#use('clear');
    if (options !== undefined && options !== null && typeof options === 'object' && options.prefix === undefined) {
      // A prefix that is unexpectedly undefined must not turn into "delete everything".
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', 'clear: the prefix option is undefined; call clear() to remove every entry');
    }
    const range = options === undefined ? undefined : this.#range(options, 'clear');
    try {
      return repo.clear(range);
    } catch (err) {
      throw this.#fail(err, 'clear');
    }
  }

  /**
   * Deletes every expired row now, in short transactions that hold the write
   * lock briefly. Reads never return expired rows anyway, and writes remove
   * some as they go; this reclaims the rest.
   *
   * @returns how many rows were deleted
   */
  purgeExpired(): number {
    const repo = this.#use('purgeExpired');
    const batch = 1000;
    let total = 0;
    try {
      for (;;) {
        const n = repo.cull(this.#now(), batch);
        this.#binding.connection.maintain();
        total += n;
        if (n < batch) return total;
      }
    } catch (err) {
      throw this.#fail(err, 'purgeExpired');
    }
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction: it holds the write lock from the
   * start, so its reads and writes are atomic with respect to every other
   * connection and process. If `fn` throws, nothing it wrote is kept.
   * Nested calls (also from {@link KVDatabase.transaction}) become savepoints.
   *
   * `fn` must be synchronous: a transaction cannot stay open across `await`.
   */
  transaction<T>(fn: (store: this) => T): T {
    this.#use('transaction');
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `transaction: expected a function, got ${describe(fn)}`);
    }
    return this.#binding.connection.callerTransaction(() => fn(this), 'transaction');
  }

  /** Whether {@link KVStore.close} has been called (or the database holding the store was closed). */
  get closed(): boolean {
    return this.#repo === undefined;
  }

  /**
   * Closes the store; when it opened its own file, closes the file too. Any
   * later call is an `ERR_KV_CLOSED` error. Closing twice is harmless.
   */
  close(): void {
    if (this.#repo === undefined) return;
    this.#repo = undefined;
    if (this.#binding.closesConnection) this.#binding.connection.close();
    this.#binding.onClose?.(this);
  }

  /** Closes the store at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * The error to throw for `err`, met during `operation`: a driver error
   * becomes a typed one, and a table that vanished under this handle is
   * explained from the registry (dropped, or recreated).
   */
  #fail(err: unknown, operation: string): unknown {
    if (isMissingTable(err)) {
      try {
        this.#repo?.assertCurrent();
      } catch (stale) {
        return stale;
      }
    }
    return toKVError(err, operation);
  }

  #use(operation: string): KVRepository {
    const repo = this.#repo;
    if (repo === undefined) throw new KVError('ERR_KV_CLOSED', `${operation}: store "${this.name}" is closed`);
    return repo;
  }

  /** Now, in whole epoch milliseconds (a clock may return fractions; expiry times are integers). */
  #now(): number {
    return Math.floor(this.#options.clock.now());
  }

  #expiry(ttl: Ttl, now: number, operation: string): number | null {
    return expiryFromTtl(ttl === undefined ? this.#options.defaultTtl : ttl, now, operation);
  }

  #encode(value: unknown, operation: string): EncodedValue {
    let data: unknown;
    try {
      data = this.#options.serializer.serialize(value);
    } catch (err) {
      if (isKVError(err)) throw err;
      throw new KVTypeError('ERR_KV_INVALID_VALUE', `${operation}: cannot serialize ${describe(value)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new KVTypeError(
        'ERR_KV_INVALID_VALUE',
        `${operation}: the "${this.#options.serializer.name}" serializer returned ${describe(data)}, not a string or Uint8Array`,
      );
    }
    return data;
  }

  #decode(data: EncodedValue, key: string): unknown {
    try {
      return this.#options.serializer.deserialize(data);
    } catch (err) {
      // The likeliest cause is checked first, and only now (reads stay one query): the store was recreated with another serializer.
      this.#repo?.assertCurrent();
      throw new KVError(
        'ERR_KV_DESERIALIZE',
        `the stored value of ${describe(key)} cannot be read with the "${this.#options.serializer.name}" serializer: ${(err as Error).message}; ` +
          'the row is left as it is, for inspection (a set() of the key replaces it)',
        { cause: err },
      );
    }
  }

  #cull(repo: KVRepository, now: number, written: number): void {
    const limit = Math.min(2 * (this.#writesSinceCull + written), CULL_MAX);
    this.#untilCull = CULL_INTERVAL;
    this.#writesSinceCull = 0;
    repo.cull(now, limit);
  }

  #range(options: ListOptions | undefined, operation: string): KeyRange {
    if (options === undefined) return prefixRange('');
    if (typeof options !== 'object' || options === null) {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: options must be an object, got ${describe(options)}`);
    }
    const { prefix = '' } = options;
    assertKey(prefix, `${operation} (prefix)`);
    return prefixRange(prefix);
  }

  #decodedRows(options: ListOptions | undefined, operation: string): [string, V][] {
    const repo = this.#use(operation);
    const range = this.#range(options, operation);
    try {
      return repo.entries(range, this.#now()).map(([key, data]) => [key, this.#decode(data, key) as V]);
    } catch (err) {
      throw this.#fail(err, operation);
    }
  }

  #keyList(keys: Iterable<string>, operation: string): string[] {
    if (typeof keys !== 'object' || keys === null || !(Symbol.iterator in keys) || typeof keys === 'string') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: expected an iterable of keys, got ${describe(keys)}`);
    }
    const list = Array.from(keys);
    for (const key of list) assertKey(key, operation);
    return list;
  }

  *#iterate(range: KeyRange, batchSize: number): Generator<[string, V], undefined, undefined> {
    let lo = range.lo;
    for (;;) {
      const repo = this.#use('entries');
      let rows: [string, EncodedValue][];
      try {
        rows = repo.page({ lo, hi: range.hi }, this.#now(), batchSize);
      } catch (err) {
        throw this.#fail(err, 'entries');
      }
      for (const [key, data] of rows) yield [key, this.#decode(data, key) as V];
      const last = rows[rows.length - 1];
      if (rows.length < batchSize || last === undefined) return;
      lo = successor(last[0]);
    }
  }
}
