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
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncKVDatabase } from '../../async/database';
import { isKVError } from '../../core/errors';
import { openOwnedStore, splitStoreOptions } from '../../async/open';
import type { AsyncKVStore } from '../../async/store';
import { assertRuntime } from '../../core/runtime';
import { type KVDatabaseOptions, type KVStoreFileOptions, resolveDatabaseOptions } from '../../core/options';
import { type ConnectionSource, borrowConnection, isConnectionSource, openConnection, resolveDatabasePath } from '../connection';
import { SqliteDatabaseBackend } from './backend';

assertRuntime();

const DATABASE_KEYS = ['timeout', 'readonly', 'durability', 'mmapSize'];

/**
 * Opens the connection of `source`: a path this library opens (and closes),
 * or an app's own better-sqlite3 connection. Opening a file can meet another
 * process's lock too (switching a fresh file to WAL, recovering a `-wal`):
 * it is retried here, on a timer, for up to `timeout`, rather than inside the
 * driver, so the event loop keeps running while it waits.
 */
async function connect(source: string | ConnectionSource, options: unknown): Promise<SqliteDatabaseBackend> {
  const borrowed = isConnectionSource(source);
  const resolved = resolveDatabaseOptions(options, borrowed);
  if (borrowed) return new SqliteDatabaseBackend(borrowConnection(source), resolved.timeout);
  const path = resolveDatabasePath(source);
  const deadline = Date.now() + resolved.timeout;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      return new SqliteDatabaseBackend(openConnection(path, { ...resolved, timeout: 0 }, false), resolved.timeout);
    } catch (err) {
      if (!isKVError(err) || err.code !== 'ERR_KV_BUSY' || Date.now() >= deadline) throw err;
    }
    await sleep(Math.min(pause * (0.5 + Math.random()), Math.max(deadline - Date.now(), 0)));
  }
}

/**
 * Opens (creating if needed) a store in the SQLite file at `source` (or on
 * an app's better-sqlite3 or Drizzle connection), with the same options as
 * `new KVStore(path, options)`.
 */
export async function openStore<V = unknown>(source: string | ConnectionSource, options?: string | KVStoreFileOptions): Promise<AsyncKVStore<V>> {
  const { table, store, engine } = splitStoreOptions(typeof options === 'string' ? { table: options } : options, DATABASE_KEYS);
  return openOwnedStore<V>(await connect(source, engine), table, store);
}

/** Opens the SQLite file at `source` (or an app's connection) holding any number of stores. */
export async function openDatabase(source: string | ConnectionSource, options?: KVDatabaseOptions): Promise<AsyncKVDatabase> {
  return AsyncKVDatabase.open(await connect(source, options));
}

export * from '../../async/public';
export type { ConnectionSource } from '../connection';
