/**
 * The one contract every store and database of this library keeps, whatever
 * its engine: the sync SQLite `KVStore` and every `AsyncKVStore` implement
 * {@link KVStoreApi}, differing only in whether results come as values or as
 * promises. The documentation of each method lives here, once.
 */
import type { Limits, RecordedLimits } from './limits';
import type { Ttl } from './ttl';

/** Whether an API returns its results directly (`'sync'`) or as promises (`'async'`). */
export type Mode = 'sync' | 'async';

/** A result of type `T` in mode `M`: `T` itself, or a promise of it. */
export type Result<M extends Mode, T> = M extends 'sync' ? T : Promise<T>;

/** What {@link KVStoreApi.entries} returns in mode `M`. */
export type Entries<M extends Mode, V> = M extends 'sync' ? IterableIterator<[string, V]> : AsyncIterableIterator<[string, V]>;

/** Options of {@link KVStoreApi.keys}, {@link KVStoreApi.values}, {@link KVStoreApi.items} and {@link KVStoreApi.clear}. */
export interface ListOptions {
  /** Only keys starting with this string (a key-range scan on the primary key). */
  prefix?: string;
}

/** Options of {@link KVStoreApi.entries}. */
export interface EntriesOptions extends ListOptions {
  /**
   * Rows read per query. Between batches nothing is held open, so other
   * statements, writes included, may run while iterating.
   * @default 256
   */
  batchSize?: number;
}

/**
 * Options of a write ({@link KVStoreApi.set}, {@link KVStoreApi.add},
 * {@link KVStoreApi.setMany}); a plain number or `null` in their place is the `ttl`.
 */
export interface WriteOptions {
  /** Seconds until the entry expires; see {@link KVStoreApi.set}. */
  ttl?: Ttl;
  /**
   * When the entry expires, in epoch milliseconds (a whole number after
   * now), instead of `ttl`: for a time computed elsewhere, kept to the millisecond.
   */
  expiresAt?: number;
  /**
   * Tags of the entry: non-empty strings (at most 64 an entry), for
   * {@link KVStoreApi.invalidateTag}. A write replaces the entry's tags (none
   * given: none kept); `incr`, `decr` and `touch` keep them.
   */
  tags?: Iterable<string>;
}

/** What {@link KVStoreApi.stats} reports. */
export interface StoreStats {
  /** Reads that found a live entry (`get`, `getMany`, `pop`, `has`, per key). */
  readonly hits: number;
  /** Reads that found none. */
  readonly misses: number;
  /** Entries written (`set`, `add` that stored, `setMany` per entry, `incr`, `decr`). */
  readonly sets: number;
  /** Entries deleted by `delete`, `pop`, `clear` and `invalidateTag`. */
  readonly deletes: number;
  /** Entries evicted to keep the store within its limits. */
  readonly evictions: number;
  /** Expired entries deleted (by culling on writes, `purgeExpired`, and before evicting). */
  readonly expirations: number;
  /** Bytes the store's rows take (keys plus encoded values, expired rows until culled); `undefined` for a table the app's migrations manage. */
  readonly bytes: number | undefined;
  /** Rows the store holds (expired ones until culled); `undefined` for a table the app's migrations manage. */
  readonly entries: number | undefined;
  /** The store's limits, as its database records them. */
  readonly limits: RecordedLimits | null;
}

/** The entries {@link KVStoreApi.setMany} accepts: `[key, value]` pairs, or a record. */
export type ManyEntries<V> = Iterable<readonly [string, V]> | Readonly<Record<string, V>>;

/**
 * A persistent key-value store: one table, values encoded by the store's
 * serializer (JSON by default), entries that may expire after a TTL in
 * seconds. Keys are listed in code-point order (bytewise in UTF-8) on every engine.
 *
 * @typeParam M - `'sync'` for the SQLite `KVStore`, `'async'` for every `AsyncKVStore`
 * @typeParam V - the type of the values (checked at run time only by the serializer)
 */
export interface KVStoreApi<M extends Mode, V = unknown> {
  /** The store's name, which is its table name. */
  readonly name: string;

  /**
   * The value of `key`, or `defaultValue` (`undefined` if not given) when
   * the key is missing or expired. A stored `null` is a value, not a miss.
   */
  get(key: string): Result<M, V | undefined>;
  get<D>(key: string, defaultValue: D): Result<M, V | D>;

  /**
   * Stores `value` under `key`, replacing any previous value.
   *
   * @param ttl - seconds until the entry expires (fractions allowed);
   *   `null` or `Infinity` for never; omitted: the store's `defaultTtl`.
   *   Zero, negative and `NaN` are a `RangeError`. Or {@link WriteOptions}: `{ ttl, tags }`.
   */
  set(key: string, value: V, ttl?: Ttl | WriteOptions): Result<M, void>;

  /**
   * Stores `value` only if `key` is missing or expired, atomically (one
   * statement, so two processes racing to add the same key cannot both win).
   *
   * @returns whether the value was stored
   */
  add(key: string, value: V, ttl?: Ttl | WriteOptions): Result<M, boolean>;

  /** Whether `key` holds a live (not expired) value. */
  has(key: string): Result<M, boolean>;

  /**
   * Removes `key`.
   *
   * @returns whether a live value was removed
   */
  delete(key: string): Result<M, boolean>;

  /**
   * Removes `key` and returns its value, or `defaultValue` if it was missing
   * or expired. Atomic: of many callers racing for one key, one gets the value.
   */
  pop(key: string): Result<M, V | undefined>;
  pop<D>(key: string, defaultValue: D): Result<M, V | D>;

  /**
   * Gives a live entry a new TTL, counted from now (`null`/`Infinity`: never expires).
   *
   * @returns whether `key` was live
   */
  touch(key: string, ttl?: Ttl): Result<M, boolean>;

  /**
   * Seconds until `key` expires: `Infinity` if it never does, `undefined`
   * if it is missing or already expired.
   */
  ttl(key: string): Result<M, number | undefined>;

  /**
   * Adds `by` to the number stored under `key` and returns the result,
   * atomically across connections and processes (no update is ever lost).
   * A missing or expired key counts as 0 and is created with the store's
   * `defaultTtl` (none by default); an existing entry keeps its expiry. The
   * arithmetic is JavaScript's on every engine.
   */
  incr(key: string, by?: number): Result<M, number>;

  /** Subtracts `by` from the number stored under `key`; see {@link KVStoreApi.incr}. */
  decr(key: string, by?: number): Result<M, number>;

  /**
   * The live values of `keys`, read in one consistent snapshot (one round
   * trip on a server). Missing and expired keys are absent from the map.
   */
  getMany(keys: Iterable<string>): Result<M, Map<string, V>>;

  /**
   * Stores many entries in one transaction: all of them or, if any key or
   * value is refused, none. A key given twice keeps its last value.
   */
  setMany(entries: ManyEntries<V>, ttl?: Ttl | WriteOptions): Result<M, void>;

  /**
   * Deletes every entry carrying `tag`, in one statement through the tag
   * index (not a scan): atomically, so no entry of the tag written before
   * the call survives it.
   *
   * @returns how many entries were deleted (expired ones not yet culled included)
   */
  invalidateTag(tag: string): Result<M, number>;

  /** The tags of `key`'s live entry (`[]`: none), or `undefined` when it is missing or expired. */
  tagsOf(key: string): Result<M, string[] | undefined>;

  /**
   * The store's statistics: this handle's counts since it opened (or was
   * reset), or with `stats: 'persisted'` the counts every handle added to
   * the database; and what the store holds, with its limits.
   */
  stats(): Result<M, StoreStats>;

  /** Resets the statistics to zero: this handle's, and with `stats: 'persisted'` the database's. */
  resetStats(): Result<M, void>;

  /**
   * Changes the store's limits and eviction policy, for every handle (each
   * applies them from its next write on, or within 64 writes): `null`
   * removes them. The policy's index is created, and the indexes of other
   * policies dropped, in the same transaction. Entries over the new limit
   * are evicted by the writes that follow, a bounded number per write.
   */
  setLimits(limits: Limits | null): Result<M, void>;

  /** The live keys, in key order. */
  keys(options?: ListOptions): Result<M, string[]>;

  /** The live values, in key order. */
  values(options?: ListOptions): Result<M, V[]>;

  /** The live `[key, value]` pairs, in key order. */
  items(options?: ListOptions): Result<M, [string, V][]>;

  /**
   * Iterates over the live entries in key order, reading them in batches, so
   * a store of any size is never loaded into memory at once. Each key is
   * visited at most once; entries written during the iteration may or may
   * not be seen, depending on where they fall.
   */
  entries(options?: EntriesOptions): Entries<M, V>;

  /** The number of live entries (a count over the table: O(n)). */
  readonly size: Result<M, number>;

  /**
   * Removes every entry, or with `prefix` every entry whose key starts with it.
   *
   * @returns how many rows were removed (expired rows not yet purged included)
   */
  clear(options?: ListOptions): Result<M, number>;

  /**
   * Deletes every expired row now, in short transactions. Reads never return
   * expired rows anyway, and writes remove some as they go; this reclaims the rest.
   *
   * @returns how many rows were deleted
   */
  purgeExpired(): Result<M, number>;

  /**
   * Runs `fn` in one database transaction holding the write lock (SQLite) or
   * the store's transaction lock (servers): its reads and writes are atomic
   * with respect to every other connection and process. If `fn` throws,
   * nothing it wrote is kept. Nested calls become savepoints.
   *
   * Use the store `fn` is given: on an async store, the outer store runs
   * outside the transaction (on PostgreSQL, on another connection).
   */
  transaction<T>(fn: (store: this) => Result<M, T>): Result<M, T>;

  /** Whether the store has been closed (or the database holding it was closed). */
  readonly closed: boolean;

  /**
   * Closes the store; when it opened its own connection, closes that too.
   * Any later call is an `ERR_KV_CLOSED` error. Closing twice is harmless.
   */
  close(): Result<M, void>;
}

/** What the databases of this library report about one store. */
export interface StoreInfo {
  /** The store's name, which is its table name. */
  readonly name: string;
  /** The version of the per-store format its table is in. */
  readonly version: number;
  /** The name of the serializer its values were written with. */
  readonly serializer: string;
  /** When the store was created, in epoch milliseconds. */
  readonly createdAt: number;
  /** The store's limits and eviction policy (`null`: none). */
  readonly limits: RecordedLimits | null;
}

/** The format state of a database: what it is in, what this library writes, and what is pending. */
export interface FormatReport {
  /** The database-level format version (0: this library never wrote to it). */
  readonly databaseVersion: number;
  /** The database-level version this library writes. */
  readonly supportedDatabaseVersion: number;
  /** The per-store version this library writes. */
  readonly supportedStoreVersion: number;
  /**
   * Every store, with whether it has migration steps pending, and whether it
   * is `newer` than this library (written by a later release: this one
   * refuses to open, migrate or drop it).
   */
  readonly stores: readonly (StoreInfo & { readonly pending: boolean; readonly newer: boolean })[];
  /** Whether anything would be migrated by `migrate()`. */
  readonly pending: boolean;
  /** Whether any store is newer than this library (then `migrate()` refuses, and migrates nothing). */
  readonly newer: boolean;
  /** Tables in kv-cache's (Python) layout, which `adoptKvCache` would convert (SQLite files only; elsewhere empty). */
  readonly kvCacheTables: readonly string[];
}

/** Options of {@link KVDatabaseApi.drop}. */
export interface DropOptions {
  /**
   * Drop the store even if it is in a newer format than this library.
   * @default false
   */
  force?: boolean;
}

/**
 * One database holding any number of named stores, each its own table.
 *
 * @typeParam M - `'sync'` for the SQLite `KVDatabase`, `'async'` for every `AsyncKVDatabase`
 * @typeParam S - the store type it opens
 * @typeParam O - the store options it takes
 */
export interface KVDatabaseApi<M extends Mode, S, O> {
  /**
   * Opens (creating if needed) the store `name`. Stores of different names
   * are fully independent; the same name with the same options is the same
   * open store, so calling this per request costs nothing.
   */
  store(name: string, options?: O): Result<M, S>;

  /** The stores in the database, by name, with their format version and serializer. */
  stores(): Result<M, StoreInfo[]>;

  /**
   * The database's format: its version, the versions this library writes,
   * and each store with whether it has migration steps pending. Changes nothing.
   */
  inspect(): Result<M, FormatReport>;

  /**
   * Migrates every store to the current format now, in one transaction
   * (stores are otherwise migrated when they are opened).
   *
   * @returns the names of the stores that were migrated
   */
  migrate(): Result<M, string[]>;

  /**
   * Deletes the store `name` and all its entries. Open handles on it are closed.
   * A store written by a newer release (see `inspect()`) is refused with
   * `ERR_KV_FORMAT_TOO_NEW` unless `options.force`.
   *
   * @returns whether the store existed
   */
  drop(name: string, options?: DropOptions): Result<M, boolean>;

  /** Whether the database has been closed. */
  readonly closed: boolean;

  /** Closes every store opened from this database, then its connection if it opened one. Closing twice is harmless. */
  close(): Result<M, void>;
}
