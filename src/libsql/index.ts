/**
 * `drizzle-kv/libsql`: the async store contract on libSQL, through
 * `@libsql/client`: a local `file:` database or a sqld (Turso) server over
 * `http(s):`, `ws(s):` or `libsql:`. The SQLite file format, queries and
 * guarantees, with these differences:
 *
 * - Waiting for another process's write lock on a `file:` database happens
 *   inside the driver (its busy `timeout`), which blocks the thread, as the
 *   sync `KVStore` does.
 * - In one process, this library's writes on one database go through one
 *   write queue: while an `incr` or a `transaction()` runs, other writes
 *   (of every store on that client, or on that file) wait for it; reads do not.
 * - Inside `transaction(fn)`, use the store `fn` is given. A write through
 *   the outer store is refused (`ERR_KV_INVALID_ARGUMENT`): it would wait
 *   for the transaction it is part of. A read through it runs outside the
 *   transaction, seeing what was committed.
 *
 * @example
 * ```ts
 * import { openStore } from 'drizzle-kv/libsql';
 * await using store = await openStore('file:cache.db', { table: 'sessions' });
 * await store.set('k', 1);
 * ```
 *
 * @packageDocumentation
 */
import { AsyncKVDatabase } from '../async/database';
import { openOwnedStore, splitStoreOptions } from '../async/open';
import type { AsyncKVStore } from '../async/store';
import { assertOptionsObject } from '../core/options';
import type { KVStoreOptions } from '../core/options';
import { assertRuntime } from '../core/runtime';
import { LibsqlDatabaseBackend } from './backend';
import { CLIENT_KEYS, type LibsqlClientOptions, type LibsqlSource, openSession } from './client';
import { ClientExecutor } from './executor';

assertRuntime();

/** Options of {@link openStore}: the store's, its table name, and those of the client created for a URL. */
export interface LibsqlStoreOptions extends KVStoreOptions, LibsqlClientOptions {
  /**
   * Name of the store, which is its table name: letters, digits and
   * underscores, not starting with a digit, `sqlite_` or `drizzle_kv_`.
   * @default 'key_value_store'
   */
  table?: string;
}

async function backendOf(source: LibsqlSource, options: Record<string, unknown>): Promise<LibsqlDatabaseBackend> {
  const session = await openSession(source, options);
  return new LibsqlDatabaseBackend(session, new ClientExecutor(session));
}

/**
 * Opens (creating if needed) a store on a libSQL database: a URL (the
 * library creates the client, and closes it with the store), an
 * `@libsql/client` client or a Drizzle libSQL database (the app's, left open).
 */
export async function openStore<V = unknown>(source: LibsqlSource, options?: string | LibsqlStoreOptions): Promise<AsyncKVStore<V>> {
  const { table, store, engine } = splitStoreOptions(typeof options === 'string' ? { table: options } : options, CLIENT_KEYS);
  return openOwnedStore<V>(await backendOf(source, engine), table, store);
}

/** Opens a libSQL database holding any number of stores (see {@link openStore} for `source`). */
export async function openDatabase(source: LibsqlSource, options?: LibsqlClientOptions): Promise<AsyncKVDatabase> {
  const given = options ?? {};
  assertOptionsObject(given, CLIENT_KEYS);
  return AsyncKVDatabase.open(await backendOf(source, given));
}

export * from '../async/public';
/** The Drizzle table of a store: libSQL is SQLite, so it is the sqlite-core `kvTable`. */
export { kvTable } from '../schema/store';
export type { LibsqlClientOptions, LibsqlSource } from './client';
