/**
 * The format plans of `core/format.ts` on libSQL: the bookkeeping tables
 * and steps are SQLite's (libSQL is SQLite), read and written through an
 * {@link Executor}; the format lock is a write transaction (`BEGIN
 * IMMEDIATE`), alone in this process on the database (see `WriteGate`).
 */
import { eq } from 'drizzle-orm';
import type { Row } from '@libsql/client' with { 'resolution-mode': 'import' };
import { databaseSteps } from '../../migrations/database';
import { storeSteps } from '../../migrations/store';
import type { StoreInfo } from '../core/api';
import { KVError } from '../core/errors';
import { type Format, type Plan, type RegistryPort, type StoreProbe, runAsync } from '../core/format';
import { FORMAT_META_KEY, kvMeta, kvStores } from '../schema/database';
import { EVICTION_ORDER, type INDEXED_POLICIES, type RecordedLimits, evictionIndexName } from '../core/limits';
import { STORE_TEMPLATE_NAME } from '../schema/store';
import { PROBE_SQL, derivedNames, recordOf, usageTriggerStatements } from '../sqlite/registry';
import { isMissingTable } from './errors';
import type { Executor, Statement } from './executor';
import { SQL_BUILDER } from './repository';

/** The format this library writes on libSQL: SQLite's steps. */
export const LIBSQL_FORMAT: Format = { database: databaseSteps, store: storeSteps };

const db = SQL_BUILDER;

/** A typed query's SQL and arguments. */
const compiled = (query: { toSQL(): { sql: string; params: unknown[] } }): Statement => {
  const { sql: text, params } = query.toSQL();
  return { sql: text, args: params as Statement['args'] };
};
const plain = (text: string, args: Statement['args'] = []): Statement => ({ sql: text, args });

const toInt = (value: unknown): number => (typeof value === 'number' ? value : Number(value));

/** A registry row read with `SELECT *` (see the SQLite registry: an older database lacks later columns). */
function record(row: Row): StoreInfo {
  const n = (value: unknown) => (value === null || value === undefined ? null : toInt(value));
  return recordOf({
    name: String(row['name']),
    version: toInt(row['version']),
    serializer: String(row['serializer']),
    created_at: toInt(row['created_at']),
    max_bytes: n(row['max_bytes']),
    max_entries: n(row['max_entries']),
    eviction: row['eviction'] === undefined || row['eviction'] === null ? null : String(row['eviction']),
  });
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** kv-cache's (Python) table layout, as `columnShape` writes it: `(key TEXT PRIMARY KEY, value BLOB, expires_at TIMESTAMP)`. */
const KV_CACHE_SHAPE = 'key:TEXT:1,value:BLOB:0,expires_at:TIMESTAMP:0';
const columnShape = (rows: readonly Row[]): string => rows.map((c) => `${String(c['name'])}:${String(c['type']).toUpperCase()}:${toInt(c['pk'])}`).join(',');

/** The bookkeeping of one libSQL database, through one executor, as the format plans see it. */
export class LibsqlRegistry implements RegistryPort<'async'> {
  readonly format: Format = LIBSQL_FORMAT;
  readonly readonly = false;

  /** A registry per plan run: while a plan holds the lock, {@link LibsqlRegistry.ex} is its transaction. */
  constructor(private ex: Executor) {}

  async probe(name: string): Promise<StoreProbe | undefined> {
    try {
      const row = (await this.ex.read(plain(PROBE_SQL, [FORMAT_META_KEY, name]))).rows[0];
      if (row === undefined) return undefined;
      const version = row['databaseVersion'];
      return { ...record(row), databaseVersion: version === null || version === undefined ? null : Number(version) };
    } catch (err) {
      if (isMissingTable(err)) return undefined;
      throw err;
    }
  }

  async databaseVersion(): Promise<number> {
    try {
      const row = (await this.ex.read(compiled(db.select({ value: kvMeta.value }).from(kvMeta).where(eq(kvMeta.name, FORMAT_META_KEY))))).rows[0];
      return row === undefined ? 0 : Number(row[0]);
    } catch (err) {
      if (isMissingTable(err)) return 0;
      throw err;
    }
  }

  async find(name: string): Promise<StoreInfo | undefined> {
    // SQLite names are case-insensitive (for ASCII), so lookups by name are too.
    const row = (await this.ex.read(plain('SELECT * FROM drizzle_kv_stores WHERE name = ? COLLATE NOCASE', [name]))).rows[0];
    return row && record(row);
  }

  async list(): Promise<StoreInfo[]> {
    return (await this.ex.read(plain('SELECT * FROM drizzle_kv_stores ORDER BY name'))).rows.map(record);
  }

  async insert(info: StoreInfo): Promise<void> {
    const { name, version, serializer, createdAt } = info;
    await this.ex.write(compiled(db.insert(kvStores).values({ name, version, serializer, createdAt })));
    if (info.limits !== null) await this.setLimits(name, info.limits);
  }

  async setLimits(name: string, limits: RecordedLimits | null): Promise<void> {
    const values = { maxBytes: limits?.maxBytes ?? null, maxEntries: limits?.maxEntries ?? null, eviction: limits?.eviction ?? null };
    await this.ex.write(compiled(db.update(kvStores).set(values).where(eq(kvStores.name, name))));
  }

  async usageTriggers(name: string, on: boolean): Promise<void> {
    for (const statement of usageTriggerStatements(name, on)) await this.ex.write(plain(statement));
  }

  async evictionIndex(name: string, policy: (typeof INDEXED_POLICIES)[number], create: boolean): Promise<void> {
    const index = quote(evictionIndexName(name, policy));
    const columns = EVICTION_ORDER[policy].map(quote).join(', ');
    await this.ex.write(plain(create ? `CREATE INDEX IF NOT EXISTS ${index} ON ${quote(name)} (${columns})` : `DROP INDEX IF EXISTS ${index}`));
  }

  async setVersion(name: string, version: number): Promise<void> {
    await this.ex.write(compiled(db.update(kvStores).set({ version }).where(eq(kvStores.name, name))));
  }

  async setDatabaseVersion(version: number): Promise<void> {
    const value = String(version);
    await this.ex.write(compiled(db.insert(kvMeta).values({ name: FORMAT_META_KEY, value }).onConflictDoUpdate({ target: kvMeta.name, set: { value } })));
  }

  async remove(name: string): Promise<void> {
    await this.ex.write(compiled(db.delete(kvStores).where(eq(kvStores.name, name))));
  }

  async applyDatabase(from: number): Promise<void> {
    for (const step of this.format.database.slice(from)) for (const statement of step.statements) await this.ex.write(plain(statement));
  }

  async applyStore(name: string, from: number): Promise<void> {
    for (const step of this.format.store.slice(from)) {
      for (const statement of step.statements) await this.ex.write(plain(statement.replaceAll(STORE_TEMPLATE_NAME, name)));
    }
  }

  async dropTable(name: string): Promise<void> {
    await this.ex.write(plain(`DROP TABLE IF EXISTS "${name}"`));
    // Counters and tag rows exist from database format 2 on (a drop may run before a migration).
    if ((await this.databaseVersion()) >= 2) {
      await this.ex.write(plain('DELETE FROM drizzle_kv_counters WHERE store = ?', [name]));
      await this.ex.write(plain('DELETE FROM drizzle_kv_tags WHERE store = ?', [name]));
    }
  }

  async creationProblem(name: string): Promise<KVError | undefined> {
    const columns = (await this.ex.read(plain('SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid', [name]))).rows;
    if (columnShape(columns) === KV_CACHE_SHAPE) {
      return new KVError(
        'ERR_KV_LEGACY_TABLE',
        `table "${name}" was written by kv-cache (Python), which may still be using it, so it is not converted silently; ` +
          `adopt it once with new KVDatabase(path).adoptKvCache({ tables: ["${name}"] }) (an SQLite file, through drizzle-kv's sync API)`,
      );
    }
    const objects = derivedNames(name);
    const found = await this.ex.read(plain(`SELECT 1 FROM sqlite_master WHERE name IN (${objects.map(() => '?').join(', ')}) COLLATE NOCASE`, objects));
    if (found.rows.length > 0) {
      return new KVError('ERR_KV_FOREIGN_TABLE', `the database already has a table or index named "${name}" that is not a drizzle-kv store; it was left untouched`);
    }
    return undefined;
  }

  /** The tables in kv-cache's layout, in one read (on a server, one round trip whatever the number of tables). */
  async kvCacheTables(): Promise<string[]> {
    const { rows } = await this.ex.read(
      plain(
        "SELECT m.name AS tbl, p.name AS name, p.type AS type, p.pk AS pk FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND substr(m.name, 1, 7) <> 'sqlite_' ORDER BY m.name, p.cid",
      ),
    );
    const byTable = new Map<string, Row[]>();
    for (const row of rows) {
      const table = String(row['tbl']);
      let columns = byTable.get(table);
      if (columns === undefined) byTable.set(table, (columns = []));
      columns.push(row);
    }
    return [...byTable].filter(([, columns]) => columnShape(columns) === KV_CACHE_SHAPE).map(([table]) => table);
  }

  /**
   * The format lock: a write transaction (a savepoint inside one), all of it
   * or nothing, run again if refused as busy (a plan re-reads what it
   * decides on). The plans call this registry itself inside it, so its calls
   * go to the transaction until the plan ends.
   */
  locked<T>(plan: () => Plan<T>): Promise<T> {
    return this.ex.transaction((inside) => this.#within(inside, plan), true);
  }

  snapshot<T>(plan: () => Plan<T>): Promise<T> {
    return this.ex.snapshot((inside) => this.#within(inside, plan));
  }

  async #within<T>(inside: Executor, plan: () => Plan<T>): Promise<T> {
    const outer = this.ex;
    this.ex = inside;
    try {
      return await runAsync(plan());
    } finally {
      this.ex = outer;
    }
  }
}
