/**
 * What the facades need from an engine, typed once for both modes: the sync
 * SQLite repository implements `Repository<'sync'>`, the async engines
 * `Repository<'async'>`. A repository knows rows, not values: validation,
 * TTL arithmetic, encoding and counters are the core's (see `rules.ts`).
 */
import type { EncodedValue } from '../schema/value';
import type { FormatReport, Mode, Result, StoreInfo } from './api';
import type { KeyRange } from './key-range';
import type { NameRules } from './names';
import type { ResolvedStoreOptions } from './options';
import type { EvictionPolicy, RecordedLimits, Usage } from './limits';
import type { Capabilities, TagList } from './rules';
import type { Accesses, Counts } from './upkeep';

/** A stored row as the store sees it: its encoded value and its expiry (epoch ms, or `null`). */
export type StoredRow = readonly [value: EncodedValue, expiresAt: number | null];

/** The row a read-modify-write leaves, written at `at`, and what the store method returns. */
export interface Update<T> {
  readonly value: EncodedValue;
  readonly expiresAt: number | null;
  readonly at: number;
  readonly result: T;
}

/** The queries of one store table, on one engine. */
export interface Repository<M extends Mode> {
  /** The row of `key`, live or expired. */
  read(key: string): Result<M, StoredRow | undefined>;
  /** The rows of `keys` (in that order; `undefined` where there is none), read in one consistent snapshot. */
  readMany(keys: readonly string[]): Result<M, (StoredRow | undefined)[]>;
  /** The expiry of `key`'s row (`null`: never), live or expired; `undefined` when there is no row. */
  expiry(key: string): Result<M, number | null | undefined>;
  /**
   * Inserts or replaces the row of `key` (its tags too; written at `at`,
   * which is also its last access); with `cull > 0`, also deletes up to that
   * many expired rows. Returns how many it culled.
   */
  write(key: string, value: EncodedValue, expiresAt: number | null, at: number, cull: number, tags: TagList): Result<M, number>;
  /** Writes every row (distinct keys, the same tags) atomically, then culls up to `cull` expired rows. Returns how many it culled. */
  writeMany(keys: readonly string[], values: readonly EncodedValue[], expiresAt: number | null, at: number, cull: number, tags: TagList): Result<M, number>;
  /** Writes unless a live row holds `key` at `at`, in one atomic statement. Returns whether it wrote. */
  writeIfAbsent(key: string, value: EncodedValue, expiresAt: number | null, at: number, tags: TagList): Result<M, boolean>;
  /**
   * Reads the row of `key`, writes what `modify` makes of it, and returns its
   * result: atomically, so no concurrent update of the key is lost. `modify`
   * is pure and synchronous; it may throw to write nothing. The row keeps its tags.
   */
  update<T>(key: string, modify: (row: StoredRow | undefined) => Update<T>): Result<M, T>;
  /** Deletes the row of `key`, live or expired, in one statement. Returns its expiry (`undefined`: there was none). */
  remove(key: string): Result<M, number | null | undefined>;
  /** Deletes the row of `key` and returns it, in one statement: of concurrent takers, one gets it. */
  take(key: string): Result<M, StoredRow | undefined>;
  /** Sets the expiry of a row live at `at`. Returns whether there was one. */
  setExpiry(key: string, expiresAt: number | null, at: number): Result<M, boolean>;
  /** Live keys in `range`, in key order. */
  keys(range: KeyRange, at: number): Result<M, string[]>;
  /** Live `[key, value]` rows in `range`, in key order. */
  entries(range: KeyRange, at: number): Result<M, [string, EncodedValue][]>;
  /** At most `limit` live rows in `range` with keys after `after` (all of the range when `undefined`), in key order. */
  page(range: KeyRange, after: string | undefined, at: number, limit: number): Result<M, [string, EncodedValue][]>;
  /** The number of live rows. */
  count(at: number): Result<M, number>;
  /** Deletes every row (live or expired) in `range`, or in the table. Returns how many. */
  clear(range: KeyRange | undefined): Result<M, number>;
  /** Deletes at most `limit` expired rows. Returns how many it deleted. */
  cull(at: number, limit: number): Result<M, number>;
  /** Deletes every row tagged `tag`, through the tag index. Returns how many. */
  invalidate(tag: string): Result<M, number>;
  /** The tags of `key`'s row if it is live at `at` (`[]`: none); `undefined` when there is no live row. */
  tagsOf(key: string, at: number): Result<M, string[] | undefined>;
  /** What the store holds by its counters (kept while it has limits), and the limits its registry row records now. */
  usage(): Result<M, Usage>;
  /** What the store's table holds, counted (a scan: for a store without limits, which keeps no counters). */
  measure(): Result<M, { bytes: number; entries: number }>;
  /**
   * Deletes rows in `policy`'s order (oldest first), at most `limit`, none
   * written at or after `sparedFrom`: enough to remove `entries` rows and
   * `bytes` bytes, if `limit` allows. Returns how many.
   */
  evict(policy: Exclude<EvictionPolicy, 'none'>, sparedFrom: number, entries: number, bytes: number, limit: number): Result<M, number>;
  /** Folds reads into the rows that still exist: `accessed_at` at least the read's time, `hits` plus their count. */
  recordAccess(accesses: Accesses): Result<M, void>;
  /** Adds statistics to the store's counters in the database. */
  addCounts(delta: Counts): Result<M, void>;
  /** The statistics of the store's counters in the database (every handle's, summed). */
  counts(): Result<M, Counts>;
  /** Sets the store's statistics in the database to zero (not its bytes and entries). */
  resetCounts(): Result<M, void>;
  /**
   * Throws the error explaining why this handle's store is no longer what it
   * opened (dropped, migrated by a newer release, recreated with another
   * serializer), if it is not. A no-op for a table the app's migrations manage.
   */
  assertCurrent(): Result<M, void>;
}

/** How a facade reaches its engine: the repository, and what the engine decides about errors and transactions. */
export interface StoreBackend<M extends Mode> {
  readonly repo: Repository<M>;
  /** The store's limits as recorded when the handle opened. */
  readonly limits: RecordedLimits | null;
  /** Records new limits for the store (see `core/format.ts` setStoreLimits). */
  setLimits(limits: RecordedLimits | null): Result<M, void>;
  /**
   * The library's typed error for `err`, met during `operation`: a driver
   * error becomes one (the driver's error as `cause`), anything else passes.
   * A table that does not exist is `ERR_KV_NO_SUCH_STORE`.
   */
  classify(err: unknown, operation: string): unknown;
  /** Runs `fn` in one transaction, on a repository bound to it (nested: a savepoint). */
  transaction<T>(fn: (backend: StoreBackend<M>) => Result<M, T>): Result<M, T>;
  /** Releases what the store holds (its own connection, if it opened one). */
  close(): Result<M, void>;
}

/** How an async database facade reaches its engine: opening stores, the registry, and transactions. */
export interface DatabaseBackend {
  /** What the engine holds (see {@link Capabilities}). */
  readonly capabilities: Capabilities;
  /** What store names the engine accepts. */
  readonly names: NameRules;
  /**
   * Makes sure the store `name` exists in the current format (creating or
   * migrating it; with `tables: 'external'`, checks the app's table instead)
   * and returns the backend of a handle on it.
   */
  openStore(name: string, options: ResolvedStoreOptions): Promise<StoreBackend<'async'>>;
  stores(): Promise<StoreInfo[]>;
  inspect(): Promise<FormatReport>;
  migrate(): Promise<string[]>;
  drop(name: string, force: boolean): Promise<boolean>;
  /** Runs `fn` in one transaction, on a backend bound to it. */
  transaction<T>(fn: (backend: DatabaseBackend) => Promise<T>): Promise<T>;
  /** The library's typed error for `err` (see {@link StoreBackend.classify}). */
  classify(err: unknown, operation: string): unknown;
  /** Releases the connection or pool, if the library opened it. */
  close(): Promise<void>;
}
