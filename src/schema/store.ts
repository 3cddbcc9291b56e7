import { sql } from 'drizzle-orm';
import { customType, index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

import { type EncodedValue, entrySize } from './value';

export { type EncodedValue, entrySize };

/**
 * The `value` column. Declared `BLOB` so SQLite applies no type affinity:
 * text stays text and bytes stay bytes, whatever the serializer produced.
 */
const encodedValue = customType<{ data: EncodedValue; driverData: EncodedValue }>({
  dataType: () => 'blob',
});

/**
 * Name of the expiry index of the store table `tableName`.
 *
 * Index names are global to a database file, so each store derives its own
 * from its table name; a fixed name would collide with the second store.
 */
export function expiryIndexName(tableName: string): string {
  return `${tableName}_expires_at_idx`;
}

function defineKvTable(name: string) {
  return sqliteTable(
    name,
    {
      /** The user's key, compared byte-wise (SQLite's BINARY collation). */
      key: text('key').primaryKey(),
      /** The serialized value. */
      value: encodedValue('value').notNull(),
      /** Expiry as integer epoch milliseconds; `NULL` means the entry never expires. */
      expiresAt: integer('expires_at'),
      /**
       * When the value was last written (set, add, incr…), in epoch milliseconds;
       * reads never change it. The order of least-recently-stored eviction. (Format 2.)
       */
      updatedAt: integer('updated_at').notNull().default(0),
      /** Bytes the entry takes: its key and encoded value, in UTF-8. What size limits count. (Format 2.) */
      size: integer('size').notNull().default(0),
      /**
       * When the entry was last read or written, in epoch milliseconds, as far as
       * the store knows: reads are recorded in memory and folded into later writes,
       * so it trails the truth a little. The order of least-recently-used eviction. (Format 3.)
       */
      accessedAt: integer('accessed_at').notNull().default(0),
      /** Reads of the entry since it was written, folded in like `accessed_at`. The order of least-frequently-used eviction. (Format 3.) */
      hits: integer('hits').notNull().default(0),
      /**
       * The entry's tags, as a JSON array of strings (`NULL`: none). Triggers keep
       * `drizzle_kv_tags`, the index that invalidation goes through, in step with it. (Format 3.)
       */
      tags: text('tags'),
    },
    (table) => [
      // Partial: entries without expiry (usually most of them) cost the index nothing,
      // and "is anything expired?" is a probe of a small index instead of a scan.
      index(expiryIndexName(name))
        .on(table.expiresAt)
        .where(sql`${sql.identifier('expires_at')} IS NOT NULL`),
    ],
  );
}


/** The Drizzle table type shared by every store table, whatever its name. */
export type KVTable = ReturnType<typeof defineKvTable>;

/** A row of a store table, as Drizzle reads it. */
export type KVRow = KVTable['$inferSelect'];

/**
 * Declares the Drizzle table of the store named `name`.
 *
 * Every store in a file is one table of this shape. Apps that already use
 * Drizzle can declare the same table in their own schema and query it with
 * typed Drizzle code:
 *
 * @example
 * ```ts
 * import { kvTable } from 'drizzle-kv';
 * export const sessions = kvTable('sessions');
 * // db.select().from(sessions).where(eq(sessions.key, 'abc'))
 * ```
 */
export function kvTable(name: string): KVTable {
  return defineKvTable(name);
}

/**
 * The table name that the generated per-store DDL is written for. The runtime
 * replaces it with the real store name; it is never a table in a user's file.
 */
export const STORE_TEMPLATE_NAME = '__kv_store__';
