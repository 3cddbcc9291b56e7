import type { StoreInfo } from '../core/api';
import type { StoreProbe } from '../core/format';
import { asc, eq, sql } from 'drizzle-orm';
import type { Connection } from './connection';
import { isMissingTable } from './errors';
import { FORMAT_META_KEY, kvMeta, kvStores } from '../schema/database';

/** A store as the registry records it. */
export type StoreRecord = StoreInfo;

/**
 * The probe, written as SQL rather than built with Drizzle: it runs at every
 * open, and building a query costs a cold process ~2 ms, more than the read.
 * tests/registry.test.ts checks it against the typed tables.
 */
export const PROBE_SQL = `SELECT s.name AS name, s.version AS version, s.serializer AS serializer, s.created_at AS createdAt,
  (SELECT m.value FROM drizzle_kv_meta m WHERE m.name = ?) AS databaseVersion
  FROM drizzle_kv_stores s WHERE s.name = ? COLLATE NOCASE`;

/** SQLite names are case-insensitive (for ASCII), so lookups by name are too. */
const sameName = (name: string) => sql`${kvStores.name} = ${name} COLLATE NOCASE`;

/**
 * Typed queries on the bookkeeping tables (`drizzle_kv_meta`, `drizzle_kv_stores`).
 * These run at open and on administrative calls only, so they are built per call.
 */
export class Registry {
  constructor(private readonly conn: Connection) {}

  /**
   * The one read an open costs when nothing needs migrating: the store's row
   * and the file's format version together. `undefined` when the file has no
   * bookkeeping yet or no such store.
   */
  probe(name: string): StoreProbe | undefined {
    try {
      const row = this.conn.client.prepare(PROBE_SQL).get(FORMAT_META_KEY, name) as
        | (StoreRecord & { databaseVersion: string | null })
        | undefined;
      return row && { ...row, databaseVersion: row.databaseVersion === null ? null : Number(row.databaseVersion) };
    } catch (err) {
      if (isMissingTable(err)) return undefined;
      throw err;
    }
  }

  /** The database-level format version; 0 for a file this library has never written. */
  databaseVersion(): number {
    try {
      const row = this.conn.db.select({ value: kvMeta.value }).from(kvMeta).where(eq(kvMeta.name, FORMAT_META_KEY)).get();
      return row ? Number(row.value) : 0;
    } catch (err) {
      if (isMissingTable(err)) return 0;
      throw err;
    }
  }

  setDatabaseVersion(version: number): void {
    this.conn.db
      .insert(kvMeta)
      .values({ name: FORMAT_META_KEY, value: String(version) })
      .onConflictDoUpdate({ target: kvMeta.name, set: { value: String(version) } })
      .run();
  }

  /** The store whose name matches `name` ignoring ASCII case. */
  find(name: string): StoreRecord | undefined {
    return this.conn.db.select().from(kvStores).where(sameName(name)).get();
  }

  list(): StoreRecord[] {
    return this.conn.db.select().from(kvStores).orderBy(asc(kvStores.name)).all();
  }

  insert(record: StoreRecord): void {
    this.conn.db.insert(kvStores).values(record).run();
  }

  setVersion(name: string, version: number): void {
    this.conn.db.update(kvStores).set({ version }).where(eq(kvStores.name, name)).run();
  }

  remove(name: string): void {
    this.conn.db.delete(kvStores).where(eq(kvStores.name, name)).run();
  }

  /**
   * Whether `name` is a table in the layout kv-cache (Python) creates:
   * `(key TEXT PRIMARY KEY, value BLOB, expires_at TIMESTAMP)`. (No store has
   * this shape: a store's `value` is NOT NULL and its `expires_at` INTEGER.)
   */
  isKvCacheTable(name: string): boolean {
    const columns = this.conn.client.pragma(`table_info("${name.replaceAll('"', '""')}")`) as {
      name: string;
      type: string;
      pk: number;
    }[];
    const shape = columns.map((c) => `${c.name}:${c.type.toUpperCase()}:${c.pk}`).join(',');
    return shape === 'key:TEXT:1,value:BLOB:0,expires_at:TIMESTAMP:0';
  }

  /** Tables in the file that are in kv-cache's layout and not stores. */
  kvCacheTables(): string[] {
    const tables = this.conn.client
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_' ORDER BY name")
      .pluck()
      .all() as string[];
    return tables.filter((t) => this.isKvCacheTable(t));
  }

  /** Whether the file holds any schema object (table, index, view, trigger) of this name, in any case. */
  objectExists(name: string): boolean {
    const row = this.conn.client
      .prepare('SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE')
      .get(name);
    return row !== undefined;
  }
}
