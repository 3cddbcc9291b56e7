import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

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
});

/** Name of the {@link kvMeta} row holding the database-level format version. */
export const FORMAT_META_KEY = 'format';
