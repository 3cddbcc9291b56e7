/**
 * The PostgreSQL tables of drizzle-kv, as drizzle pg-core declarations: the
 * table of one store ({@link pgKvTable}) and the bookkeeping tables
 * ({@link pgBookkeeping}). They hold the same logical columns as the SQLite
 * declarations in `src/schema/`, so "store format 2" means the same on both
 * engines (tests/pg/format-parity.test.ts checks it).
 *
 * This module imports `drizzle-orm` and `drizzle-orm/pg-core` only: no driver,
 * and nothing of sqlite-core, so an app on PostgreSQL can put these tables in
 * its own drizzle-kit schema without pulling in SQLite.
 *
 * @packageDocumentation
 */
import { type BuildColumns, sql } from 'drizzle-orm';
import {
  type IndexBuilderOn,
  type PgTableWithColumns,
  PgSchema,
  bigint,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
} from 'drizzle-orm/pg-core';

/**
 * `text COLLATE "C"`: text compared byte by byte (UTF-8), whatever the
 * database's default collation is.
 *
 * - Byte order of UTF-8 is code-point order, which is SQLite's BINARY order:
 *   `keys()`, ranges and cursors list keys in the same order on both engines
 *   (an ICU or glibc locale would sort `a` before `B` and ignore punctuation).
 * - The primary-key index is built in that collation, so `key >= $lo AND
 *   key < $hi` and prefix `LIKE 'p%'` are index range scans; under a
 *   non-C database collation they would be sequential scans.
 *
 * pg-core 0.45 has no `.collate()`, hence a custom type whose SQL type carries
 * the collation; drizzle-kit writes it through verbatim
 * (`"key" text COLLATE "C" PRIMARY KEY NOT NULL`).
 */
const textC = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

/**
 * `bytea`: the serializer's output, stored as bytes for every serializer.
 *
 * Not `jsonb`: jsonb reorders object keys, drops duplicate keys and refuses
 * `\u0000` in strings (`22P05`), so a value would not come back as written.
 * Not `text`: binary serializers (`'v8'`) produce arbitrary bytes.
 *
 * The column's data is a `Buffer` (what node-postgres returns for bytea and
 * accepts as a parameter). The JSON serializer produces a JS string: the
 * repository converts it with `Buffer.from(text, 'utf8')` on write and
 * `buffer.toString('utf8')` on read; this declaration does not convert.
 */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
});

/**
 * Suffixes PostgreSQL object names derive from a store's table name.
 *
 * - `_expires_at_idx`: the partial expiry index ({@link pgExpiryIndexName}).
 * - `_pkey`: the primary-key constraint and its index, named by PostgreSQL
 *   itself (`<table>_pkey`).
 *
 * Identifiers are cut at 63 bytes (NAMEDATALEN - 1), so a store name plus the
 * longest suffix must fit. Eviction and tag indexes will add suffixes here;
 * {@link PG_MAX_STORE_NAME} follows.
 */
export const PG_DERIVED_SUFFIXES: readonly string[] = ['_expires_at_idx', '_pkey', '_tags_idx', '_lrs_idx', '_lru_idx', '_lfu_idx', '_count_insert', '_count_update', '_count_delete'];

/** PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1); longer names are silently truncated. */
export const PG_MAX_IDENTIFIER = 63;

/**
 * Longest store name accepted on PostgreSQL: {@link PG_MAX_IDENTIFIER} minus
 * the longest of {@link PG_DERIVED_SUFFIXES} (48 today). A longer name would
 * have its derived index name truncated, and two stores sharing their first
 * 48 characters would then collide. Store names are ASCII identifiers, so
 * characters are bytes.
 */
export const PG_MAX_STORE_NAME = PG_MAX_IDENTIFIER - Math.max(...PG_DERIVED_SUFFIXES.map((s) => s.length));

/**
 * Name of the expiry index of the store table `tableName`: the same name as
 * on SQLite (`<table>_expires_at_idx`).
 *
 * PostgreSQL index names are unique per schema (namespace), so each store
 * derives its own. An index always lives in its table's schema, so the name
 * is never schema-qualified.
 */
export function pgExpiryIndexName(tableName: string): string {
  return `${tableName}_expires_at_idx`;
}

function kvColumns() {
  return {
    /** The user's key, compared byte-wise (`COLLATE "C"`, = SQLite's BINARY). */
    key: textC('key').primaryKey(),
    /** The serialized value, as bytes (see the `bytea` type above). */
    value: bytea('value').notNull(),
    /**
     * Expiry as epoch milliseconds; `NULL` means the entry never expires.
     * `bigint` because epoch milliseconds exceed int4; `mode: 'number'` because
     * node-postgres returns int8 as a string otherwise.
     */
    expiresAt: bigint('expires_at', { mode: 'number' }),
    /** When the value was last written, in epoch milliseconds (JS clock). (Format 2.) */
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull().default(0),
    /** Bytes the entry takes: UTF-8 of its key plus its encoded value; computed in JS. (Format 2.) */
    size: bigint('size', { mode: 'number' }).notNull().default(0),
    /** When the entry was last read or written, folded in from memory (see the SQLite column). (Format 3.) */
    accessedAt: bigint('accessed_at', { mode: 'number' }).notNull().default(0),
    /** Reads since the entry was written, folded in from memory. (Format 3.) */
    hits: bigint('hits', { mode: 'number' }).notNull().default(0),
    /** The entry's tags (`NULL`: none), found through the GIN index `<name>_tags_idx`. (Format 3.) */
    tags: text('tags').array(),
  };
}

/** The Drizzle table type shared by every PostgreSQL store table, whatever its name or schema. */
export type PgKVTable = PgTableWithColumns<{
  name: string;
  schema: string | undefined;
  columns: BuildColumns<string, ReturnType<typeof kvColumns>, 'pg'>;
  dialect: 'pg';
}>;

/** A row of a PostgreSQL store table, as Drizzle reads it. */
export type PgKVRow = PgKVTable['$inferSelect'];

/** Where a PostgreSQL table lives. */
export interface PgTableOptions {
  /**
   * The PostgreSQL schema (namespace) of the table. Without it the table is
   * unqualified and resolves through the connection's `search_path`.
   */
  readonly schema?: string;
}

/**
 * Declares the PostgreSQL table of the store named `name`: the same logical
 * columns as the SQLite `kvTable(name)`.
 *
 * | column | type | why |
 * |---|---|---|
 * | `key` | `text COLLATE "C"`, primary key | SQLite's byte order; index range scans for prefixes under any database collation |
 * | `value` | `bytea NOT NULL` | values come back byte for byte (jsonb would reorder keys and refuse `\u0000`) |
 * | `expires_at` | `bigint`, nullable | epoch ms; `mode: 'number'`, else int8 reads as a string |
 * | `updated_at` | `bigint NOT NULL DEFAULT 0` | format 2 |
 * | `size` | `bigint NOT NULL DEFAULT 0` | format 2; computed in JS |
 *
 * plus the partial index `<name>_expires_at_idx` on `expires_at` `WHERE
 * expires_at IS NOT NULL`: entries without expiry cost it nothing, and purge
 * scans only what can expire.
 *
 * With `options.schema` the table is qualified with that namespace
 * (`"schema"."name"`); `'public'` is accepted and qualifies explicitly.
 *
 * @example
 * ```ts
 * export const sessions = pgKvTable('sessions', { schema: 'cache' });
 * // db.select().from(sessions).where(eq(sessions.key, 'abc'))
 * ```
 */
export function pgKvTable(name: string, options: PgTableOptions = {}): PgKVTable {
  // new PgSchema(), not pgSchema(): pgSchema('public') throws, and an explicit
  // 'public' differs from the search_path when that path is changed.
  return options.schema === undefined
    ? pgTable(name, kvColumns(), (t) => [expiryIndex(name, t.expiresAt), tagIndex(name, t.tags)])
    : new PgSchema(options.schema).table(name, kvColumns(), (t) => [expiryIndex(name, t.expiresAt), tagIndex(name, t.tags)]);
}

/** Name of the tag index of the store table `tableName`. */
export function pgTagIndexName(tableName: string): string {
  return `${tableName}_tags_idx`;
}

/**
 * The partial GIN index on `tags`: invalidating a tag (`tags @> ARRAY[$1]`)
 * reads the entries that carry it, and untagged entries cost it nothing.
 */
function tagIndex(tableName: string, tags: Parameters<IndexBuilderOn['on']>[0]) {
  return index(pgTagIndexName(tableName))
    .using('gin', tags)
    .where(sql`${sql.identifier('tags')} IS NOT NULL`);
}

/**
 * The partial expiry index. `sql.identifier`, not `${column}`: a column
 * reference would render as `"table"."expires_at"`, tying the generated DDL to
 * one table name.
 */
function expiryIndex(tableName: string, expiresAt: Parameters<IndexBuilderOn['on']>[0]) {
  return index(pgExpiryIndexName(tableName))
    .on(expiresAt)
    .where(sql`${sql.identifier('expires_at')} IS NOT NULL`);
}

function bookkeepingColumns() {
  return {
    meta: {
      /** The entry's name; `'format'` holds the database-level format version. */
      name: textC('name').primaryKey(),
      value: text('value').notNull(),
    },
    stores: {
      /** The store's table name (byte-wise, as on SQLite). */
      name: textC('name').primaryKey(),
      /** The per-store format version the table is in. */
      version: integer('version').notNull(),
      /** The serializer the store's values were written with. */
      serializer: text('serializer').notNull(),
      /** When the store was created, in epoch milliseconds (int8; `mode: 'number'`). */
      createdAt: bigint('created_at', { mode: 'number' }).notNull(),
      /** The most bytes the store may hold, or `NULL`. (Database format 2.) */
      maxBytes: bigint('max_bytes', { mode: 'number' }),
      /** The most entries the store may hold, or `NULL`. (Database format 2.) */
      maxEntries: bigint('max_entries', { mode: 'number' }),
      /** The eviction policy (`'lrs'`, `'lru'`, `'lfu'`, `'none'`), or `NULL` without a limit. (Database format 2.) */
      eviction: text('eviction'),
    },
    counters: {
      store: textC('store').notNull(),
      /** Which connection's share (`pg_backend_pid() % 16`): concurrent writers add to different rows. */
      shard: integer('shard').notNull(),
      bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
      entries: bigint('entries', { mode: 'number' }).notNull().default(0),
      hits: bigint('hits', { mode: 'number' }).notNull().default(0),
      misses: bigint('misses', { mode: 'number' }).notNull().default(0),
      sets: bigint('sets', { mode: 'number' }).notNull().default(0),
      deletes: bigint('deletes', { mode: 'number' }).notNull().default(0),
      evictions: bigint('evictions', { mode: 'number' }).notNull().default(0),
      expirations: bigint('expirations', { mode: 'number' }).notNull().default(0),
    },
  };
}

/**
 * The database-level bookkeeping tables on PostgreSQL, in one schema: the
 * same columns and meaning as `kvMeta` / `kvStores` of `src/schema/database.ts`.
 *
 * - `drizzle_kv_meta`: name/value pairs; its `format` row holds the version
 *   of the database-level format.
 * - `drizzle_kv_stores`: one row per store table, with the per-store format
 *   version it is in, its serializer and its creation time.
 *
 * Names are `text COLLATE "C"` so stores list in the same order as on SQLite;
 * `created_at` is `bigint` (epoch milliseconds exceed int4).
 *
 * Without `schema` the tables are unqualified (the connection's
 * `search_path`); each PostgreSQL schema holding stores has its own pair.
 */
export function pgBookkeeping(schema?: string) {
  const { meta, stores, counters } = bookkeepingColumns();
  if (schema === undefined) {
    return {
      kvMeta: pgTable('drizzle_kv_meta', meta),
      kvStores: pgTable('drizzle_kv_stores', stores),
      kvCounters: pgTable('drizzle_kv_counters', counters, (t) => [primaryKey({ columns: [t.store, t.shard] })]),
    };
  }
  const ns = new PgSchema(schema);
  return {
    kvMeta: ns.table('drizzle_kv_meta', meta),
    kvStores: ns.table('drizzle_kv_stores', stores),
    kvCounters: ns.table('drizzle_kv_counters', counters, (t) => [primaryKey({ columns: [t.store, t.shard] })]),
  };
}

const unqualified = pgBookkeeping();

/** `drizzle_kv_meta`, unqualified: what drizzle-kit generates the database level from. See {@link pgBookkeeping}. */
export const pgKvMeta = unqualified.kvMeta;

/** `drizzle_kv_stores`, unqualified: what drizzle-kit generates the database level from. See {@link pgBookkeeping}. */
export const pgKvStores = unqualified.kvStores;

/** `drizzle_kv_counters`, unqualified (bytes, entries and statistics per store; see `kvCounters` on SQLite). */
export const pgKvCounters = unqualified.kvCounters;
