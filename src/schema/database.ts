import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * File-level bookkeeping: a small name/value table. Its `format` row holds
 * the version of the database-level format (this table and the registry).
 *
 * The library keeps its own bookkeeping instead of sharing
 * `__drizzle_migrations` with a host app, whose migrator would skip or
 * collide with ours.
 */
export const kvMeta = sqliteTable('drizzle_kv_meta', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
});

/**
 * The registry of the stores in a file: one row per store table, with the
 * version of the per-store format that table is in and the serializer its
 * values were written with.
 */
export const kvStores = sqliteTable('drizzle_kv_stores', {
  name: text('name').primaryKey(),
  version: integer('version').notNull(),
  serializer: text('serializer').notNull(),
  createdAt: integer('created_at').notNull(),
  /** The most bytes (keys plus encoded values) the store may hold, or `NULL`. (Database format 2.) */
  maxBytes: integer('max_bytes'),
  /** The most entries the store may hold, or `NULL`. (Database format 2.) */
  maxEntries: integer('max_entries'),
  /**
   * What a write over a limit does: `'lrs'`, `'lru'` or `'lfu'` evict the least
   * recently stored, used, or least frequently used entries; `'none'` refuses the
   * write. `NULL` when the store has no limit. (Database format 2.)
   */
  eviction: text('eviction'),
});

/**
 * What each store holds and has done, kept by the database: the bytes and
 * entries of its table (rows, live or expired), maintained by triggers on
 * every insert, update and delete, and the statistics handles persist.
 * Counted in shards (rows of one store, summed when read): on PostgreSQL each
 * connection adds to its own, so concurrent writers never wait for one row.
 * SQLite has one writer at a time and uses shard 0. (Database format 2.)
 */
export const kvCounters = sqliteTable(
  'drizzle_kv_counters',
  {
    store: text('store').notNull(),
    shard: integer('shard').notNull(),
    bytes: integer('bytes').notNull().default(0),
    entries: integer('entries').notNull().default(0),
    hits: integer('hits').notNull().default(0),
    misses: integer('misses').notNull().default(0),
    sets: integer('sets').notNull().default(0),
    deletes: integer('deletes').notNull().default(0),
    evictions: integer('evictions').notNull().default(0),
    expirations: integer('expirations').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.store, t.shard] })],
);

/**
 * The tag index: one row per tag of each tagged entry, kept in step with the
 * entries' `tags` column by triggers on the store's table, so a delete of any
 * kind (pop, expiry, eviction, clear) leaves no row behind and invalidating a
 * tag is a range of this primary key. (Database format 2.)
 */
export const kvTags = sqliteTable(
  'drizzle_kv_tags',
  {
    store: text('store').notNull(),
    tag: text('tag').notNull(),
    key: text('key').notNull(),
  },
  (t) => [primaryKey({ columns: [t.store, t.tag, t.key] }), index('drizzle_kv_tags_key_idx').on(t.store, t.key)],
);

/** Name of the {@link kvMeta} row holding the database-level format version. */
export const FORMAT_META_KEY = 'format';
