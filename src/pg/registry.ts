/**
 * The format plans of `core/format.ts` on PostgreSQL: the registry port
 * they run over. The format lock is a transaction-scoped advisory lock per
 * PostgreSQL schema: `CREATE TABLE IF NOT EXISTS` is not atomic with the
 * catalogue there, so processes creating stores at once would otherwise
 * fail with unique violations on `pg_type`. COMMIT or ROLLBACK releases the
 * lock, it works through a pool, and a dead connection cannot leak it.
 */
import { databaseSteps } from '../../migrations/pg/database';
import { storeSteps } from '../../migrations/pg/store';
import type { StoreInfo } from '../core/api';
import { KVError } from '../core/errors';
import { type Format, type Plan, type RegistryPort, type StoreProbe, runAsync } from '../core/format';
import { EVICTION_ORDER, type INDEXED_POLICIES, type RecordedLimits, evictionIndexName, limitsFromColumns } from '../core/limits';
import { PG_DERIVED_SUFFIXES } from './schema';
import type { PgSession } from './session';

/** The format this library writes on PostgreSQL: the same versions as on SQLite, in PostgreSQL's DDL. */
export const PG_FORMAT: Format = { database: databaseSteps, store: storeSteps };

/** The template the generated store DDL is written for (see drizzle/pg/store.schema.ts). */
const TEMPLATE = '__kv_store__';
const FORMAT_META_KEY = 'format';

/** A quoted identifier (names are checked identifiers already; quoting keeps their case). */
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Where a database's stores live: a PostgreSQL schema, or the connection's current one. */
export class PgPlace {
  /** `undefined`: unqualified names, resolved through the connection's `search_path`. */
  readonly schema: string | undefined;

  constructor(schema: string | undefined) {
    this.schema = schema;
  }

  /** A table's name as SQL: `"schema"."name"` or `"name"`. */
  qualified(name: string): string {
    return this.schema === undefined ? quote(name) : `${quote(this.schema)}.${quote(name)}`;
  }

  /** The SQL of a store step, for the store `name`: the table qualified, what it owns named after it, the bookkeeping qualified. */
  storeStatement(statement: string, name: string): string {
    const own = statement
      .replaceAll(`"${TEMPLATE}"`, this.qualified(name))
      .replaceAll(`"${TEMPLATE}_`, `"${name}_`)
      .replaceAll(`'${TEMPLATE}'`, `'${name}'`);
    return this.databaseStatement(own);
  }

  /** The SQL of a bookkeeping step, its tables and functions qualified. */
  databaseStatement(statement: string): string {
    let text = statement;
    for (const object of BOOKKEEPING_OBJECTS) text = text.replaceAll(`"${object}"`, this.qualified(object));
    return text;
  }
}

/** The schema objects of the bookkeeping, which the steps name unqualified. */
const BOOKKEEPING_OBJECTS = [
  'drizzle_kv_meta',
  'drizzle_kv_stores',
  'drizzle_kv_counters',
  'drizzle_kv_count_insert',
  'drizzle_kv_count_update',
  'drizzle_kv_count_delete',
];

/**
 * A registry row read with `SELECT *`, in column order: a registry of an
 * earlier database format, read before it is migrated, lacks the later columns.
 */
function record(row: unknown[]): StoreInfo {
  return {
    name: row[0] as string,
    version: Number(row[1]),
    serializer: row[2] as string,
    createdAt: Number(row[3]),
    limits: limitsFromColumns(row[4], row[5], row[6]),
  };
}

/** The bookkeeping of one PostgreSQL schema, as the format plans see it. */
export class PgRegistry implements RegistryPort<'async'> {
  readonly format = PG_FORMAT;
  readonly readonly = false;
  readonly #place: PgPlace;
  /** The session statements go to: the database's, or while {@link PgRegistry.locked} runs, its transaction's. */
  #session: PgSession;

  constructor(session: PgSession, place: PgPlace) {
    this.#session = session;
    this.#place = place;
  }

  get #stores(): string {
    return this.#place.qualified('drizzle_kv_stores');
  }

  get #meta(): string {
    return this.#place.qualified('drizzle_kv_meta');
  }

  async probe(name: string): Promise<StoreProbe | undefined> {
    // Inside a transaction a missing table would abort it: the locked path, which checks first, decides there.
    if (this.#session.inTransaction) return undefined;
    try {
      const { rows } = await this.#session.exec(
        `SELECT (SELECT m.value FROM ${this.#meta} m WHERE m.name = $1), s.* FROM ${this.#stores} s WHERE s.name = $2`,
        [FORMAT_META_KEY, name],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      return { ...record(row.slice(1)), databaseVersion: row[0] === null ? null : Number(row[0]) };
    } catch (err) {
      if ((err as { code?: unknown }).code === '42P01' || (err as { code?: unknown }).code === '3F000') return undefined;
      throw err;
    }
  }

  /** Whether `table` exists: `to_regclass` answers NULL where a query of a missing table would abort the transaction. */
  async #exists(table: string): Promise<boolean> {
    const { rows } = await this.#session.exec('SELECT to_regclass($1) IS NOT NULL', [this.#place.qualified(table)]);
    return rows[0]?.[0] === true;
  }

  async databaseVersion(): Promise<number> {
    if (!(await this.#exists('drizzle_kv_meta'))) return 0;
    const { rows } = await this.#session.exec(`SELECT value FROM ${this.#meta} WHERE name = $1`, [FORMAT_META_KEY]);
    return rows[0] === undefined ? 0 : Number(rows[0][0]);
  }

  async find(name: string): Promise<StoreInfo | undefined> {
    if (!(await this.#exists('drizzle_kv_stores'))) return undefined;
    const { rows } = await this.#session.exec(`SELECT * FROM ${this.#stores} WHERE name = $1`, [name]);
    return rows[0] === undefined ? undefined : record(rows[0]);
  }

  async list(): Promise<StoreInfo[]> {
    if (!(await this.#exists('drizzle_kv_stores'))) return [];
    const { rows } = await this.#session.exec(`SELECT * FROM ${this.#stores} ORDER BY name`);
    return rows.map(record);
  }

  async insert(info: StoreInfo): Promise<void> {
    await this.#session.exec(`INSERT INTO ${this.#stores} (name, version, serializer, created_at) VALUES ($1, $2, $3, $4)`, [
      info.name,
      info.version,
      info.serializer,
      info.createdAt,
    ]);
    if (info.limits !== null) await this.setLimits(info.name, info.limits);
  }

  async setLimits(name: string, limits: RecordedLimits | null): Promise<void> {
    await this.#session.exec(`UPDATE ${this.#stores} SET max_bytes = $2, max_entries = $3, eviction = $4 WHERE name = $1`, [
      name,
      limits?.maxBytes ?? null,
      limits?.maxEntries ?? null,
      limits?.eviction ?? null,
    ]);
  }

  /**
   * Starts (or stops) keeping the store's counters: statement triggers
   * adding each statement's rows to the writing connection's shard (see
   * `drizzle/pg/database/0001_limits_tags_counters.sql`). Starting counts
   * the table once, holding a lock that keeps writers out until the
   * triggers exist (the format lock alone does not: writers never take it).
   */
  async usageTriggers(name: string, on: boolean): Promise<void> {
    const table = this.#place.qualified(name);
    const counters = this.#place.qualified('drizzle_kv_counters');
    for (const event of ['insert', 'update', 'delete']) await this.#session.exec(`DROP TRIGGER IF EXISTS ${quote(`${name}_count_${event}`)} ON ${table}`);
    if (!on) return;
    await this.#session.exec(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
    await this.#session.exec(`UPDATE ${counters} SET bytes = 0, entries = 0 WHERE store = $1`, [name]);
    await this.#session.exec(
      `INSERT INTO ${counters} AS c (store, shard, bytes, entries) SELECT $1, 0, coalesce(sum(size), 0), count(*) FROM ${table}
       ON CONFLICT (store, shard) DO UPDATE SET bytes = excluded.bytes, entries = excluded.entries`,
      [name],
    );
    const literal = `'${name.replaceAll("'", "''")}'`;
    const transition = { insert: 'NEW TABLE AS new_rows', update: 'OLD TABLE AS old_rows NEW TABLE AS new_rows', delete: 'OLD TABLE AS old_rows' };
    for (const [event, tables] of Object.entries(transition)) {
      await this.#session.exec(
        `CREATE TRIGGER ${quote(`${name}_count_${event}`)} AFTER ${event.toUpperCase()} ON ${table} REFERENCING ${tables}
         FOR EACH STATEMENT EXECUTE FUNCTION ${this.#place.qualified(`drizzle_kv_count_${event}`)}(${literal})`,
      );
    }
  }

  async evictionIndex(name: string, policy: (typeof INDEXED_POLICIES)[number], create: boolean): Promise<void> {
    const index = evictionIndexName(name, policy);
    await this.#session.exec(
      create
        ? `CREATE INDEX IF NOT EXISTS ${quote(index)} ON ${this.#place.qualified(name)} (${EVICTION_ORDER[policy].map(quote).join(', ')})`
        : `DROP INDEX IF EXISTS ${this.#place.qualified(index)}`,
    );
  }

  async setVersion(name: string, version: number): Promise<void> {
    await this.#session.exec(`UPDATE ${this.#stores} SET version = $2 WHERE name = $1`, [name, version]);
  }

  async setDatabaseVersion(version: number): Promise<void> {
    await this.#session.exec(
      `INSERT INTO ${this.#meta} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
      [FORMAT_META_KEY, String(version)],
    );
  }

  async remove(name: string): Promise<void> {
    await this.#session.exec(`DELETE FROM ${this.#stores} WHERE name = $1`, [name]);
  }

  async applyDatabase(from: number): Promise<void> {
    if (from === 0 && this.#place.schema !== undefined) await this.#session.exec(`CREATE SCHEMA IF NOT EXISTS ${quote(this.#place.schema)}`);
    for (const step of this.format.database.slice(from)) {
      for (const statement of step.statements) await this.#session.exec(this.#place.databaseStatement(statement));
    }
  }

  async applyStore(name: string, from: number): Promise<void> {
    for (const step of this.format.store.slice(from)) {
      for (const statement of step.statements) await this.#session.exec(this.#place.storeStatement(statement, name));
    }
  }

  async dropTable(name: string): Promise<void> {
    await this.#session.exec(`DROP TABLE IF EXISTS ${this.#place.qualified(name)}`);
    // The counters exist from database format 2 on (a drop may run before a migration).
    if (await this.#exists('drizzle_kv_counters')) await this.#session.exec(`DELETE FROM ${this.#place.qualified('drizzle_kv_counters')} WHERE store = $1`, [name]);
  }

  async creationProblem(name: string): Promise<KVError | undefined> {
    const objects = [name, ...PG_DERIVED_SUFFIXES.filter((suffix) => suffix.endsWith('_idx')).map((suffix) => `${name}${suffix}`)];
    const { rows } = await this.#session.exec(
      `SELECT ${objects.map((_, i) => `to_regclass($${i + 1}) IS NOT NULL`).join(' OR ')}`,
      objects.map((object) => this.#place.qualified(object)),
    );
    if (rows[0]?.[0] !== true) return undefined;
    return new KVError('ERR_KV_FOREIGN_TABLE', `the schema already has a table or index named "${name}" that is not a drizzle-kv store; it was left untouched`);
  }

  async kvCacheTables(): Promise<string[]> {
    return [];
  }

  /** The plan in one transaction holding the schema's advisory lock; statements inside go to that transaction. */
  async locked<T>(plan: () => Plan<T>): Promise<T> {
    const outer = this.#session;
    return outer.transaction(async (tx) => {
      await tx.exec("SELECT pg_advisory_xact_lock(hashtextextended('drizzle-kv:' || coalesce($1, current_schema()), 0))", [this.#place.schema ?? null]);
      this.#session = tx;
      try {
        return await runAsync(plan());
      } finally {
        this.#session = outer;
      }
    });
  }

  /** Reads in one REPEATABLE READ transaction: one snapshot, no lock. */
  async snapshot<T>(plan: () => Plan<T>): Promise<T> {
    const outer = this.#session;
    return outer.transaction(async (tx) => {
      if (!outer.inTransaction) await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      this.#session = tx;
      try {
        return await runAsync(plan());
      } finally {
        this.#session = outer;
      }
    });
  }
}
