/**
 * `drizzle-kv/pg`: the async store contract on PostgreSQL, through
 * node-postgres. Keys are `text COLLATE "C"` (listed in the same byte order
 * as on SQLite), values `bytea` (byte for byte, never jsonb), counters
 * atomic under READ COMMITTED, stores created and migrated under an
 * advisory lock, so many processes can open a fresh store at once.
 *
 * @example
 * ```ts
 * import { openStore } from 'drizzle-kv/pg';
 * await using store = await openStore(process.env.DATABASE_URL!, { table: 'sessions', defaultTtl: 3600 });
 * await store.set('session:abc', { user: 1 });
 * ```
 *
 * @packageDocumentation
 */
import type * as Pg from 'pg';
import type { Client, Pool } from 'pg';
import { AsyncKVDatabase } from '../async/database';
import { openOwnedStore, splitStoreOptions } from '../async/open';
import type { AsyncKVStore } from '../async/store';
import { describe } from '../core/describe';
import { KVError, KVRangeError, KVTypeError } from '../core/errors';
import type { KVStoreOptions } from '../core/options';
import { assertOptionsObject } from '../core/options';
import { assertRuntime } from '../core/runtime';
import { PgDatabaseBackend } from './backend';
import { PgPlace } from './registry';
import { ClientSession, type PgSession, PoolSession } from './session';

assertRuntime();

/** A node-postgres `Pool` or `Client`, a Drizzle node-postgres database (on either), or a connection string. */
export type PgSource = string | Pool | Client | { readonly $client: Pool | Client };

/** Options of {@link openDatabase}. */
export interface PgDatabaseOptions {
  /**
   * The PostgreSQL schema (namespace) the stores and their bookkeeping live
   * in; created if missing. Without it, tables are unqualified and resolve
   * through the connection's `search_path` (usually `public`).
   */
  pgSchema?: string;
}

/** Options of {@link openStore}: the store's name and options, and the database's. */
export interface PgStoreOptions extends KVStoreOptions, PgDatabaseOptions {
  /**
   * Name of the store, which is its table name: letters, digits and
   * underscores, at most 48 characters (its index names must fit
   * PostgreSQL's 63-byte identifiers), not starting with `pg_` or `drizzle_kv_`.
   * @default 'key_value_store'
   */
  table?: string;
}

const ENGINE_KEYS = ['pgSchema'];
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function resolvePlace(options: Record<string, unknown>): PgPlace {
  const { pgSchema } = options;
  if (pgSchema === undefined) return new PgPlace(undefined);
  if (typeof pgSchema !== 'string') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "pgSchema" must be a string, got ${describe(pgSchema)}`);
  }
  if (!SCHEMA_NAME.test(pgSchema) || pgSchema.toLowerCase().startsWith('pg_')) {
    throw new KVRangeError(
      'ERR_KV_INVALID_OPTION',
      `option "pgSchema" must be an identifier of letters, digits and underscores (at most 63, not starting with a digit or "pg_"), got ${describe(pgSchema)}`,
    );
  }
  return new PgPlace(pgSchema);
}

/** node-postgres, loaded only when the library opens a pool itself (an app's pool or client needs no import of it). */
function pgDriver(): typeof Pg {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, by design
    return require('pg') as typeof Pg;
  } catch (err) {
    throw new KVError('ERR_KV_NO_DRIVER', 'the pg (node-postgres) driver is not installed; install it beside drizzle-kv: npm install pg', { cause: err });
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Whether `value` is a node-postgres Pool (judged by shape: the app's pg may be another copy than ours). */
function isPool(value: Record<string, unknown>): boolean {
  return typeof value['connect'] === 'function' && typeof value['query'] === 'function' && typeof value['totalCount'] === 'number';
}

function isClient(value: Record<string, unknown>): boolean {
  return typeof value['connect'] === 'function' && typeof value['query'] === 'function' && 'connectionParameters' in value;
}

/** The session of `source`, and what closing the database does (ends a pool the library opened; nothing for the app's). */
function connect(source: unknown): { session: PgSession; close: () => Promise<void> } {
  if (typeof source === 'string') {
    if (source === '') throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', 'expected a PostgreSQL connection string, got an empty string');
    const pool = new (pgDriver().Pool)({ connectionString: source });
    // An idle client's connection error (a server restart) is emitted on the pool; unheard, it would crash the
    // process. The pool drops that client and opens another on the next query, whose own errors are thrown there.
    pool.on('error', () => undefined);
    let ended: Promise<void> | undefined;
    return { session: new PoolSession(pool), close: () => (ended ??= pool.end()) };
  }
  const client = isObject(source) && '$client' in source ? source['$client'] : source;
  if (isObject(client) && isPool(client)) return { session: new PoolSession(client as unknown as Pool), close: async () => {} };
  if (isObject(client) && isClient(client)) return { session: new ClientSession(client as unknown as Client), close: async () => {} };
  throw new KVTypeError(
    'ERR_KV_INVALID_ARGUMENT',
    `expected a PostgreSQL connection string, a node-postgres Pool or Client, or a Drizzle node-postgres database, got ${describe(source)}`,
  );
}

function backendOf(source: unknown, options: Record<string, unknown>): PgDatabaseBackend {
  const place = resolvePlace(options);
  const { session, close } = connect(source);
  return new PgDatabaseBackend(session, place, close);
}

/**
 * Opens (creating if needed) the store `options.table` on PostgreSQL. With a
 * connection string, the store owns its pool and ends it on close; an app's
 * pool, client or Drizzle database stays the app's.
 */
export async function openStore<V = unknown>(source: PgSource, options?: string | PgStoreOptions): Promise<AsyncKVStore<V>> {
  const { table, store, engine } = splitStoreOptions(typeof options === 'string' ? { table: options } : options, ENGINE_KEYS);
  return openOwnedStore<V>(backendOf(source, engine), table, store);
}

/** Opens a PostgreSQL database (one schema of it) holding any number of stores. */
export async function openDatabase(source: PgSource, options?: PgDatabaseOptions): Promise<AsyncKVDatabase> {
  const given = options ?? {};
  assertOptionsObject(given, ENGINE_KEYS);
  return AsyncKVDatabase.open(backendOf(source, given));
}

export * from '../async/public';
export { pgBookkeeping, pgKvTable } from './schema';
export type { PgKVRow, PgKVTable, PgTableOptions } from './schema';
