import type { DropOptions, KVDatabaseApi, StoreInfo } from '../core/api';
import { type Connection, type ConnectionSource, borrowConnection, isConnectionSource, openConnection, resolveDatabasePath } from './connection';
import { KVError, KVTypeError } from '../core/errors';
import { toKVError } from './errors';
import { type FormatReport, assertDatabaseSupported, dropStore, inspectFormat, listStores, migrateAll } from './migrator';
import { type AdoptKvCacheOptions, type AdoptedTable, adoptKvCacheTables } from './kv-cache-adoption';
import { assertStoreName } from '../core/names';
import { type KVDatabaseOptions, type KVStoreOptions, type ResolvedStoreOptions, assertOptionsObject, resolveDatabaseOptions, resolveStoreOptions } from '../core/options';
import { BINDING, KVStore } from './store';
import { describe } from '../core/describe';

/** Whether two resolved store options would make the same store. */
function sameOptions(a: ResolvedStoreOptions, b: ResolvedStoreOptions): boolean {
  return a.serializer === b.serializer && a.defaultTtl === b.defaultTtl && a.clock === b.clock && a.tables === b.tables;
}

export type { DropOptions, StoreInfo };

/** What {@link KVDatabase.inspect} reports. */
export type FileInfo = FormatReport;

/**
 * One SQLite file holding any number of named stores, each its own table,
 * all sharing this one connection.
 *
 * @example
 * ```ts
 * using db = new KVDatabase('app.db');
 * const users = db.store('users');
 * const sessions = db.store('sessions', { defaultTtl: 3600 });
 * db.stores().map((s) => s.name); // ['sessions', 'users']
 * ```
 */
export class KVDatabase implements KVDatabaseApi<'sync', KVStore<unknown>, KVStoreOptions>, Disposable {
  /** The file's resolved path (or `':memory:'`; for an app's connection, its file name). */
  readonly path: string;
  #connection: Connection | undefined;
  /** The stores opened from this database and not closed yet, with what they were opened with. */
  readonly #open = new Map<KVStore<unknown>, { name: string; options: ResolvedStoreOptions }>();

  /**
   * Opens (creating if needed) the SQLite file at `path`. Parent folders are
   * created, `~` is expanded; `':memory:'` is a private in-memory database.
   * Opening creates no table: stores are created when first opened.
   */
  constructor(path: string, options?: KVDatabaseOptions);
  /**
   * Shares an app's own connection (a better-sqlite3 `Database` or a Drizzle
   * database made on one) instead of opening a file: stores join the app's
   * transactions, the app's connection settings are left alone, and closing
   * does not close the app's connection.
   */
  constructor(connection: ConnectionSource);
  constructor(source: string | ConnectionSource, options?: KVDatabaseOptions) {
    const borrowed = isConnectionSource(source);
    const resolved = resolveDatabaseOptions(options, borrowed);
    let connection: Connection;
    if (borrowed) {
      connection = borrowConnection(source);
      this.path = connection.client.name;
    } else {
      this.path = resolveDatabasePath(source);
      connection = openConnection(this.path, resolved);
    }
    try {
      assertDatabaseSupported(connection);
    } catch (err) {
      connection.close();
      throw toKVError(err, `open ${this.path}`);
    }
    this.#connection = connection;
  }

  /**
   * Opens (creating if needed) the store `name` on this file's connection.
   * Stores of different names are fully independent.
   */
  store<V = unknown>(name: string, options?: KVStoreOptions): KVStore<V> {
    const connection = this.#use('store');
    assertStoreName(name);
    const resolved = resolveStoreOptions(options);
    // The same name with the same options is the same open store: calling store() per request costs nothing.
    for (const [open, opened] of this.#open) {
      if (opened.name === name && sameOptions(opened.options, resolved)) return open as KVStore<V>;
    }
    const store = new KVStore<V>({
      [BINDING]: true,
      connection,
      table: name,
      options: resolved,
      closesConnection: false,
      onClose: (closed) => this.#open.delete(closed as KVStore<unknown>),
    });
    this.#open.set(store as KVStore<unknown>, { name, options: resolved });
    return store;
  }

  /** The stores in the file, by name, with their format version and serializer. */
  stores(): StoreInfo[] {
    const connection = this.#use('stores');
    try {
      return listStores(connection);
    } catch (err) {
      throw toKVError(err, 'stores');
    }
  }

  /**
   * The file's format: its version, the versions this library writes, and
   * each store with whether it has migration steps pending. Changes nothing.
   */
  inspect(): FileInfo {
    const connection = this.#use('inspect');
    try {
      return inspectFormat(connection);
    } catch (err) {
      throw toKVError(err, 'inspect');
    }
  }

  /**
   * Migrates every store in the file to the current format now, in one
   * transaction (stores are otherwise migrated when they are opened).
   *
   * @returns the names of the stores that were migrated
   */
  migrate(): string[] {
    const connection = this.#use('migrate');
    try {
      return migrateAll(connection);
    } catch (err) {
      throw toKVError(err, 'migrate');
    }
  }

  /**
   * Converts tables written by kv-cache (Python) into stores, in place and
   * in one transaction: every row is kept, or nothing changes. Do it once,
   * when no Python program uses the file any more. Values stay as kv-cache
   * wrote them (the `'json'` serializer reads its `NaN`, `Infinity` and big
   * integers, the latter as `BigInt`); expiry times, naive local time in
   * kv-cache, are read in `timeZone`.
   *
   * @returns what was adopted, table by table
   */
  adoptKvCache(options?: AdoptKvCacheOptions): AdoptedTable[] {
    const connection = this.#use('adoptKvCache');
    try {
      return adoptKvCacheTables(connection, options);
    } catch (err) {
      throw toKVError(err, 'adoptKvCache');
    }
  }

  /**
   * Rebuilds the file without its free pages (`VACUUM`): after many
   * deletes, evictions or a drop, the file shrinks to what it holds. Takes
   * the write lock for as long as it copies the file (other processes' writes
   * wait, up to their `timeout`), and needs that much free disk meanwhile.
   *
   * @returns the file's size in bytes before and after
   */
  vacuum(): { before: number; after: number } {
    const connection = this.#use('vacuum');
    const size = () => Number(connection.client.pragma('page_count', { simple: true })) * Number(connection.client.pragma('page_size', { simple: true }));
    try {
      const before = size();
      connection.client.exec('VACUUM');
      return { before, after: size() };
    } catch (err) {
      throw toKVError(err, 'vacuum');
    }
  }

  /**
   * Copies what the `-wal` holds into the file and truncates the `-wal`
   * (`PRAGMA wal_checkpoint(TRUNCATE)`); writes of this file's stores do it
   * by themselves when the `-wal` grows large (docs/guarantees.md).
   *
   * @returns whether it was blocked by a reader (`busy`), and the `-wal` pages it held and copied
   */
  checkpoint(): { busy: boolean; walPages: number; copied: number } {
    const connection = this.#use('checkpoint');
    try {
      const [row] = connection.client.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      return { busy: row?.busy === 1, walPages: Math.max(0, row?.log ?? 0), copied: Math.max(0, row?.checkpointed ?? 0) };
    } catch (err) {
      throw toKVError(err, 'checkpoint');
    }
  }

  /**
   * Deletes the store `name` and all its entries. Open handles on it are closed.
   * A store written by a newer release (see {@link KVDatabase.inspect}) is
   * refused with `ERR_KV_FORMAT_TOO_NEW` unless `options.force`.
   *
   * @returns whether the store existed
   */
  drop(name: string, options?: DropOptions): boolean {
    const connection = this.#use('drop');
    assertStoreName(name);
    if (options !== undefined) assertOptionsObject(options, ['force'], 'drop: ');
    const force = options?.force ?? false;
    if (typeof force !== 'boolean') {
      throw new KVTypeError('ERR_KV_INVALID_OPTION', `drop: option "force" must be a boolean, got ${describe(force)}`);
    }
    let dropped: boolean;
    try {
      dropped = dropStore(connection, name, force);
    } catch (err) {
      throw toKVError(err, 'drop');
    }
    // Only now that the table is gone: a drop that failed (busy, read-only) leaves open handles working.
    if (dropped) for (const [store, opened] of [...this.#open]) if (opened.name === name) store.close();
    return dropped;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction, so writes to several stores of
   * this file are atomic together. `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): T {
    const connection = this.#use('transaction');
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `transaction: expected a function, got ${describe(fn)}`);
    }
    return connection.callerTransaction(fn, 'transaction');
  }

  /** Whether {@link KVDatabase.close} has been called. */
  get closed(): boolean {
    return this.#connection === undefined;
  }

  /** Closes every store opened from this database, then the file. Closing twice is harmless. */
  close(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    for (const store of [...this.#open.keys()]) store.close();
    this.#connection = undefined;
    connection.close();
  }

  /** Closes the database at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #use(operation: string): Connection {
    const connection = this.#connection;
    if (connection === undefined) throw new KVError('ERR_KV_CLOSED', `${operation}: the database ${this.path} is closed`);
    return connection;
  }
}
