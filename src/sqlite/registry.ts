import type { StoreInfo } from '../core/api';
import type { StoreProbe } from '../core/format';
import { INDEXED_POLICIES, EVICTION_ORDER, type RecordedLimits, evictionIndexName, limitsFromColumns } from '../core/limits';
import { eq } from 'drizzle-orm';
import type { Connection } from './connection';
import { isMissingTable } from './errors';
import { FORMAT_META_KEY, kvMeta, kvStores } from '../schema/database';
import { expiryIndexName } from '../schema/store';

/** A store as the registry records it. */
export type StoreRecord = StoreInfo;

/**
 * The probe, written as SQL rather than built with Drizzle: it runs at every
 * open, and building a query costs a cold process ~2 ms, more than the read.
 * tests/registry.test.ts checks it against the typed tables.
 */
/** @internal */
export const PROBE_SQL = `SELECT s.*, (SELECT m.value FROM drizzle_kv_meta m WHERE m.name = ?) AS databaseVersion
  FROM drizzle_kv_stores s WHERE s.name = ? COLLATE NOCASE`;

/**
 * The registry's rows are read with `SELECT *` and mapped here: a registry of
 * an earlier database format, read before it is migrated, lacks later columns.
 */
export interface RegistryRow {
  name: string;
  version: number;
  serializer: string;
  created_at: number;
  max_bytes?: number | null;
  max_entries?: number | null;
  eviction?: string | null;
}

export function recordOf(row: RegistryRow): StoreRecord {
  return {
    name: row.name,
    version: row.version,
    serializer: row.serializer,
    createdAt: row.created_at,
    limits: limitsFromColumns(row.max_bytes, row.max_entries, row.eviction),
  };
}

/** The schema objects a store `name` owns: its table, indexes and triggers (none may exist before it is created). */
export function derivedNames(name: string): string[] {
  return [
    name,
    expiryIndexName(name),
    ...INDEXED_POLICIES.map((policy) => evictionIndexName(name, policy)),
    ...['insert', 'update', 'delete'].flatMap((event) => [`${name}_tags_${event}`, `${name}_count_${event}`]),
  ];
}

/** A quoted identifier. */
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
/** An SQL string literal. */
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * The statements that start (or stop) keeping the counters of the store
 * `name`: its bytes and entries, exact, through triggers on its table. A
 * store has them only while it has limits (`setLimits`), like the index of
 * its policy: an unlimited store's writes pay nothing for them. Starting
 * them counts the table once; they run under the format lock (the write
 * lock), so no write falls between the count and the triggers.
 */
export function usageTriggerStatements(name: string, on: boolean): string[] {
  const t = quote(name);
  const store = literal(name);
  const trigger = (event: string) => quote(`${name}_count_${event}`);
  if (!on) return ['insert', 'update', 'delete'].map((event) => `DROP TRIGGER IF EXISTS ${trigger(event)}`);
  const add = (bytes: string, entries: string) =>
    `UPDATE drizzle_kv_counters SET bytes = bytes + ${bytes}, entries = entries + ${entries} WHERE store = ${store} AND shard = 0`;
  return [
    `INSERT INTO drizzle_kv_counters (store, shard) VALUES (${store}, 0) ON CONFLICT (store, shard) DO NOTHING`,
    `UPDATE drizzle_kv_counters SET bytes = (SELECT coalesce(sum(size), 0) FROM ${t}), entries = (SELECT count(*) FROM ${t}) WHERE store = ${store} AND shard = 0`,
    `CREATE TRIGGER IF NOT EXISTS ${trigger('insert')} AFTER INSERT ON ${t} BEGIN ${add('new.size', '1')}; END`,
    `CREATE TRIGGER IF NOT EXISTS ${trigger('update')} AFTER UPDATE OF size ON ${t} WHEN new.size <> old.size BEGIN ${add('new.size - old.size', '0')}; END`,
    `CREATE TRIGGER IF NOT EXISTS ${trigger('delete')} AFTER DELETE ON ${t} BEGIN ${add('-old.size', '-1')}; END`,
  ];
}

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
      const row = this.conn.client.prepare(PROBE_SQL).get(FORMAT_META_KEY, name) as (RegistryRow & { databaseVersion: string | null }) | undefined;
      return row && { ...recordOf(row), databaseVersion: row.databaseVersion === null ? null : Number(row.databaseVersion) };
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
    // SQLite names are case-insensitive (for ASCII), so lookups by name are too.
    const row = this.conn.client.prepare('SELECT * FROM drizzle_kv_stores WHERE name = ? COLLATE NOCASE').get(name) as RegistryRow | undefined;
    return row && recordOf(row);
  }

  list(): StoreRecord[] {
    return (this.conn.client.prepare('SELECT * FROM drizzle_kv_stores ORDER BY name').all() as RegistryRow[]).map(recordOf);
  }

  insert(record: StoreRecord): void {
    const { name, version, serializer, createdAt } = record;
    this.conn.db.insert(kvStores).values({ name, version, serializer, createdAt }).run();
    if (record.limits !== null) this.setLimits(name, record.limits);
  }

  setLimits(name: string, limits: RecordedLimits | null): void {
    this.conn.db
      .update(kvStores)
      .set({ maxBytes: limits?.maxBytes ?? null, maxEntries: limits?.maxEntries ?? null, eviction: limits?.eviction ?? null })
      .where(eq(kvStores.name, name))
      .run();
  }

  /** Creates (if missing) or drops (if present) the index eviction policy `policy` reads on the store `name`. */
  evictionIndex(name: string, policy: (typeof INDEXED_POLICIES)[number], create: boolean): void {
    const index = quote(evictionIndexName(name, policy));
    this.conn.client.exec(
      create ? `CREATE INDEX IF NOT EXISTS ${index} ON ${quote(name)} (${EVICTION_ORDER[policy].map(quote).join(', ')})` : `DROP INDEX IF EXISTS ${index}`,
    );
  }

  /** Starts or stops keeping the counters of the store `name` (see {@link usageTriggerStatements}). */
  usageTriggers(name: string, on: boolean): void {
    for (const statement of usageTriggerStatements(name, on)) this.conn.client.exec(statement);
  }

  /** Deletes what the database keeps of the store `name` besides its table: its counters and tag rows. */
  forget(name: string): void {
    this.conn.client.prepare('DELETE FROM drizzle_kv_counters WHERE store = ?').run(name);
    this.conn.client.prepare('DELETE FROM drizzle_kv_tags WHERE store = ?').run(name);
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
