/**
 * `drizzle-kv/sqlite`: the async store contract on an SQLite file, through
 * better-sqlite3. The same file format, queries and guarantees as the sync
 * `KVStore`, with one difference: waiting for another process's write lock
 * happens on a timer, so the event loop keeps running (the sync API waits
 * inside the driver, blocking the thread for up to the busy timeout).
 *
 * @example
 * ```ts
 * import { openStore } from 'drizzle-kv/sqlite';
 * await using store = await openStore('cache.db');
 * await store.set('k', 1);
 * ```
 *
 * @packageDocumentation
 */
import { AsyncKVDatabase } from '../../async/database';
import { openOwnedStore, splitStoreOptions } from '../../async/open';
import type { AsyncKVStore } from '../../async/store';
import { assertRuntime } from '../../core/runtime';
import { type KVDatabaseOptions, type KVStoreFileOptions, resolveDatabaseOptions } from '../../core/options';
import { type ConnectionSource, borrowConnection, isConnectionSource, openConnection, resolveDatabasePath } from '../connection';
import { SqliteDatabaseBackend } from './backend';

assertRuntime();

const DATABASE_KEYS = ['timeout', 'readonly', 'durability', 'mmapSize'];

/** Opens the connection of `source`: a path this library opens (and closes), or an app's own better-sqlite3 connection. */
function connect(source: string | ConnectionSource, options: unknown): SqliteDatabaseBackend {
  const borrowed = isConnectionSource(source);
  const resolved = resolveDatabaseOptions(options, borrowed);
  const connection = borrowed ? borrowConnection(source) : openConnection(resolveDatabasePath(source), resolved, false);
  return new SqliteDatabaseBackend(connection, resolved.timeout);
}

/**
 * Opens (creating if needed) a store in the SQLite file at `source` (or on
 * an app's better-sqlite3 or Drizzle connection), with the same options as
 * `new KVStore(path, options)`.
 */
export async function openStore<V = unknown>(source: string | ConnectionSource, options?: string | KVStoreFileOptions): Promise<AsyncKVStore<V>> {
  const { table, store, engine } = splitStoreOptions(typeof options === 'string' ? { table: options } : options, DATABASE_KEYS);
  return openOwnedStore<V>(connect(source, engine), table, store);
}

/** Opens the SQLite file at `source` (or an app's connection) holding any number of stores. */
export async function openDatabase(source: string | ConnectionSource, options?: KVDatabaseOptions): Promise<AsyncKVDatabase> {
  return AsyncKVDatabase.open(connect(source, options));
}

export * from '../../async/public';
export type { ConnectionSource } from '../connection';
