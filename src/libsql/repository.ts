/**
 * The queries of one store table on libSQL: the SQL text of the same typed
 * sqlite-core queries the better-sqlite3 repository prepares
 * (`src/sqlite/queries.ts`), run with `execute` / `batch` through an
 * {@link Executor}, with the rows libSQL returns mapped to the store's shapes.
 */
import { Param, Placeholder, inArray, is } from 'drizzle-orm';
import { BaseSQLiteDatabase, SQLiteAsyncDialect } from 'drizzle-orm/sqlite-core';
import type { InValue, Row } from '@libsql/client' with { 'resolution-mode': 'import' };
import { KVError, KVRangeError } from '../core/errors';
import type { KeyRange } from '../core/key-range';
import { type EvictionPolicy, type Usage, limitsFromColumns } from '../core/limits';
import type { Repository, StoredRow, Update } from '../core/ports';
import type { TagList } from '../core/rules';
import { type Accesses, COUNT_NAMES, type Counts } from '../core/upkeep';
import { type EncodedValue, type KVTable, entrySize, kvTable } from '../schema/store';
import { type Builders, type QueryName, SHAPES, type StoreGuard, guardCondition, queryBuilders, successor, upper } from '../sqlite/queries';
import { isConstraint, isMissingTable } from './errors';
import type { Executor, ResultSet, Statement } from './executor';

/**
 * A Drizzle sqlite-core database used only to build SQL (`toSQL()`): it has
 * no session, so nothing can run on it.
 */
export const SQL_BUILDER = new BaseSQLiteDatabase('async', new SQLiteAsyncDialect(), undefined as never, undefined);

/** Keys per `IN (…)` list of `readMany`: well under SQLite's 32,766 parameters. */
const READ_CHUNK = 4096;

/** The placeholder a query parameter stands for, if it is one. */
function placeholderName(param: unknown): string | undefined {
  if (is(param, Placeholder)) return param.name;
  if (is(param, Param) && is(param.value, Placeholder)) return param.value.name;
  return undefined;
}

/** An integer column as libSQL returns it (a number, or a bigint or string under another `intMode`). */
const toInt = (value: unknown): number => (typeof value === 'number' ? value : Number(value));
/** An expiry column: `NULL` is "never". */
const toExpiry = (value: unknown): number | null => (value === null || value === undefined ? null : toInt(value));

/**
 * A stored value as libSQL returns it: a BLOB as an ArrayBuffer (given to
 * the serializer as a Buffer, as better-sqlite3 gives it), TEXT as a string.
 */
function toEncoded(value: unknown): EncodedValue {
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return value as EncodedValue;
}

/** A key read as a BLOB (see {@link StoreQueries.keysAsBlobs}) or as TEXT. */
function toKey(value: unknown): string {
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString('utf8');
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  return value as string;
}

const stored = (row: Row): StoredRow => [toEncoded(row[0]), toExpiry(row[1])];

/** The queries whose first column is the key. */
const KEY_QUERIES: ReadonlySet<QueryName> = new Set(['keys', 'entries', 'page']);

/**
 * The compiled queries of one store table (shared by its repository and the
 * repositories of the transactions it runs), each built on first use.
 */
export class StoreQueries {
  readonly table: string;
  readonly #guard: StoreGuard | undefined;
  /**
   * Whether keys are read as BLOBs and decoded here. libsql's native binding
   * (`file:`) cuts TEXT at its first U+0000 when it returns it, though it
   * binds and stores it whole: a key with U+0000 would come back cut. Its
   * bytes come back whole, and a key is well-formed UTF-8, so decoding them
   * gives the key. (Over a server, TEXT comes back whole.)
   */
  readonly keysAsBlobs: boolean;
  readonly #sql = new Map<QueryName, string>();
  #builders: Builders | undefined;
  readonly #t: KVTable;

  constructor(table: string, guard: StoreGuard | undefined, keysAsBlobs: boolean) {
    this.table = table;
    this.#guard = guard;
    this.keysAsBlobs = keysAsBlobs;
    this.#t = kvTable(table);
  }

  /** Whether writes are conditioned on the registry row (a managed store). */
  get guarded(): boolean {
    return this.#guard !== undefined;
  }

  /**
   * The SQL of query `name`, after checking that its placeholders bind in
   * the order the repository passes values ({@link SHAPES}). Every write of
   * a managed store carries the guard: a libSQL transaction cannot lock the
   * registry row against another process's drop and recreate as cheaply as a
   * check at its start would need, and the guard costs one index probe.
   */
  sql(name: QueryName): string {
    let text = this.#sql.get(name);
    if (text !== undefined) return text;
    this.#builders ??= queryBuilders(SQL_BUILDER, this.#t, this.#guard && guardCondition(this.table, this.#guard));
    const query = this.#builders[name]().toSQL();
    const { order } = SHAPES[name];
    const names = query.params.map(placeholderName);
    if (names.join() !== order.join()) {
      throw new Error(`drizzle-kv: ${query.sql} binds (${names.join(', ')}), expected (${order.join(', ')})`);
    }
    text = query.sql;
    if (this.keysAsBlobs && KEY_QUERIES.has(name)) text = keyAsBlob(text);
    this.#sql.set(name, text);
    return text;
  }

  /** The rows of `keys` (distinct), in one statement: `SELECT key, value, expires_at … WHERE key IN (…)`. */
  readMany(keys: readonly string[]): Statement {
    const t = this.#t;
    const query = SQL_BUILDER.select({ key: t.key, value: t.value, expiresAt: t.expiresAt }).from(t).where(inArray(t.key, [...keys])).toSQL();
    return { sql: this.keysAsBlobs ? keyAsBlob(query.sql) : query.sql, args: query.params as InValue[] };
  }
}

/** Reads the first column, the key, as its bytes: `select "key", …` → `select CAST("key" AS BLOB), …`. */
function keyAsBlob(sql: string): string {
  const head = 'select "key"';
  if (!sql.startsWith(head)) throw new Error(`drizzle-kv: expected a query reading the key first, got ${sql}`);
  return `select CAST("key" AS BLOB)${sql.slice(head.length)}`;
}

/**
 * A store table's queries run through one executor: on the client, or in a
 * transaction. It knows rows, not values (see `core/ports.ts`).
 */
export class LibsqlRepository implements Repository<'async'> {
  constructor(
    readonly queries: StoreQueries,
    readonly ex: Executor,
    /** The registry's explanation of why this handle's store is gone or changed (see `core/format.ts` staleStoreError). */
    private readonly stale: (ex: Executor) => Promise<Error>,
  ) {}

  /** The same table on another executor (a transaction's). */
  on(ex: Executor): LibsqlRepository {
    return new LibsqlRepository(this.queries, ex, this.stale);
  }

  #statement(name: QueryName, args: InValue[]): Statement {
    return { sql: this.queries.sql(name), args };
  }

  async assertCurrent(ex: Executor = this.ex): Promise<void> {
    if (!this.queries.guarded) return;
    let current: boolean;
    try {
      current = (await ex.read(this.#statement('current', []))).rows.length > 0;
    } catch (err) {
      if (!isMissingTable(err)) throw err;
      current = false; // the bookkeeping itself is gone: so is the store
    }
    if (!current) throw await this.stale(ex);
  }

  async read(key: string): Promise<StoredRow | undefined> {
    const row = (await this.ex.read(this.#statement('read', [key]))).rows[0];
    return row && stored(row);
  }

  async readMany(keys: readonly string[]): Promise<(StoredRow | undefined)[]> {
    if (keys.length === 0) return [];
    const distinct = [...new Set(keys)];
    const statements: Statement[] = [];
    for (let i = 0; i < distinct.length; i += READ_CHUNK) statements.push(this.queries.readMany(distinct.slice(i, i + READ_CHUNK)));
    // One statement is one snapshot; several are read in one read transaction (one round trip on a server).
    const results = await this.ex.batch(statements, 'read');
    const found = new Map<string, StoredRow>();
    for (const result of results) for (const row of result.rows) found.set(toKey(row[0]), [toEncoded(row[1]), toExpiry(row[2])]);
    return keys.map((key) => found.get(key));
  }

  async expiry(key: string): Promise<number | null | undefined> {
    const row = (await this.ex.read(this.#statement('expiry', [key]))).rows[0];
    return row === undefined ? undefined : toExpiry(row[0]);
  }

  /** The upsert of one row, its values in {@link SHAPES} order. */
  #upsert(key: string, value: EncodedValue, expiresAt: number | null, at: number, tags: TagList, name: 'write' | 'writeKeepingTags' = 'write'): Statement {
    this.#checkValue(value);
    return this.#statement(name, [key, value, expiresAt, at, entrySize(key, value), at, tags === null ? null : JSON.stringify(tags)]);
  }

  #cull(at: number, limit: number): Statement {
    return this.#statement('cull', [at, limit]);
  }

  /**
   * libsql's native binding (`file:`) returns TEXT cut at its first U+0000
   * (see {@link StoreQueries.keysAsBlobs}): a value that would not read back
   * as written is refused before anything is written. (The JSON serializer
   * never writes one: JSON escapes U+0000.)
   */
  #checkValue(value: EncodedValue): void {
    if (this.queries.keysAsBlobs && typeof value === 'string' && value.includes('\u0000')) {
      throw new KVRangeError(
        'ERR_KV_INVALID_VALUE',
        "the serializer's text contains U+0000, which libSQL's file: driver cannot read back whole; nothing was written (use bytes, or a server URL)",
      );
    }
  }

  /** Runs a guarded write; an upsert the guard refused (it leaves `size` NULL: a constraint failure) is thrown as the registry explains it. */
  async #guardedWrite<T>(ex: Executor, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isConstraint(err)) await this.assertCurrent(ex);
      throw err;
    }
  }

  async write(key: string, value: EncodedValue, expiresAt: number | null, at: number, cull: number, tags: TagList): Promise<number> {
    const upsert = this.#upsert(key, value, expiresAt, at, tags);
    if (cull === 0) {
      await this.#guardedWrite(this.ex, () => this.ex.write(upsert));
      return 0;
    }
    const results = await this.#guardedWrite(this.ex, () => this.ex.batch([upsert, this.#cull(at, cull)], 'write'));
    return results[1]?.rowsAffected ?? 0;
  }

  async writeMany(
    keys: readonly string[],
    values: readonly EncodedValue[],
    expiresAt: number | null,
    at: number,
    cull: number,
    tags: TagList,
  ): Promise<number> {
    const statements = keys.map((key, i) => this.#upsert(key, values[i] as EncodedValue, expiresAt, at, tags));
    if (cull > 0) statements.push(this.#cull(at, cull));
    if (statements.length === 0) return 0;
    const results = await this.#guardedWrite(this.ex, () => this.ex.batch(statements, 'write'));
    return cull > 0 ? (results[results.length - 1]?.rowsAffected ?? 0) : 0;
  }

  async writeIfAbsent(key: string, value: EncodedValue, expiresAt: number | null, at: number, tags: TagList): Promise<boolean> {
    this.#checkValue(value);
    const encodedTags = tags === null ? null : JSON.stringify(tags);
    const statement = this.#statement('writeIfAbsent', [key, value, expiresAt, at, entrySize(key, value), at, encodedTags, at]);
    const { rowsAffected } = await this.#guardedWrite(this.ex, () => this.ex.write(statement));
    if (rowsAffected > 0) return true;
    await this.assertCurrent();
    return false;
  }

  /**
   * A read-modify-write in one write transaction, alone in this process on
   * the database (see `WriteGate`), so that no update of the key is lost.
   */
  async update<T>(key: string, modify: (row: StoredRow | undefined) => Update<T>): Promise<T> {
    return this.ex.serialized(async (ex) => {
      const row = (await ex.read(this.#statement('read', [key]))).rows[0];
      const next = modify(row && stored(row));
      const upsert = this.#upsert(key, next.value, next.expiresAt, next.at, null, 'writeKeepingTags');
      await this.#guardedWrite(ex, () => ex.write(upsert));
      return next.result;
    });
  }

  async remove(key: string): Promise<number | null | undefined> {
    const { rows } = await this.ex.write(this.#statement('remove', [key]));
    if (rows.length === 0) {
      await this.assertCurrent();
      return undefined;
    }
    return toExpiry((rows[0] as Row)[0]);
  }

  async take(key: string): Promise<StoredRow | undefined> {
    const { rows } = await this.ex.write(this.#statement('take', [key]));
    if (rows.length === 0) {
      await this.assertCurrent();
      return undefined;
    }
    return stored(rows[0] as Row);
  }

  async setExpiry(key: string, expiresAt: number | null, at: number): Promise<boolean> {
    const { rowsAffected } = await this.ex.write(this.#statement('setExpiry', [expiresAt, key, at]));
    if (rowsAffected > 0) return true;
    await this.assertCurrent();
    return false;
  }

  async keys(range: KeyRange, at: number): Promise<string[]> {
    const { rows } = await this.ex.read(this.#statement('keys', [range.lo, upper(range), at]));
    return rows.map((row) => toKey(row[0]));
  }

  async entries(range: KeyRange, at: number): Promise<[string, EncodedValue][]> {
    return this.#pairs(await this.ex.read(this.#statement('entries', [range.lo, upper(range), at])));
  }

  async page(range: KeyRange, after: string | undefined, at: number, limit: number): Promise<[string, EncodedValue][]> {
    const lo = after === undefined ? range.lo : successor(after);
    return this.#pairs(await this.ex.read(this.#statement('page', [lo, upper(range), at, limit])));
  }

  #pairs(result: ResultSet): [string, EncodedValue][] {
    return result.rows.map((row) => [toKey(row[0]), toEncoded(row[1])]);
  }

  async count(at: number): Promise<number> {
    const row = (await this.ex.read(this.#statement('count', [at]))).rows[0];
    return row === undefined ? 0 : toInt(row[0]);
  }

  async clear(range: KeyRange | undefined): Promise<number> {
    const statement = range === undefined ? this.#statement('clear', []) : this.#statement('clearRange', [range.lo, upper(range)]);
    const { rowsAffected } = await this.ex.write(statement);
    if (rowsAffected === 0) await this.assertCurrent();
    return rowsAffected;
  }

  async cull(at: number, limit: number): Promise<number> {
    const { rowsAffected } = await this.ex.write(this.#cull(at, limit));
    if (rowsAffected === 0) await this.assertCurrent();
    return rowsAffected;
  }

  async invalidate(tag: string): Promise<number> {
    const { rowsAffected } = await this.ex.write(this.#statement('invalidate', [tag]));
    if (rowsAffected === 0) await this.assertCurrent();
    return rowsAffected;
  }

  async tagsOf(key: string, at: number): Promise<string[] | undefined> {
    const row = (await this.ex.read(this.#statement('tagsOf', [key, at]))).rows[0];
    if (row === undefined) return undefined;
    const tags = row[0];
    return tags === null || tags === undefined ? [] : (JSON.parse(String(tags)) as string[]);
  }

  async usage(): Promise<Usage> {
    const row = (await this.ex.read(this.#statement('usage', []))).rows[0];
    if (row === undefined) {
      await this.assertCurrent();
      return { bytes: 0, entries: 0, limits: null };
    }
    return { bytes: toInt(row[0] ?? 0), entries: toInt(row[1] ?? 0), limits: limitsFromColumns(row[2], row[3], row[4]) };
  }

  async measure(): Promise<{ bytes: number; entries: number }> {
    const row = (await this.ex.read(this.#statement('measure', []))).rows[0];
    return { bytes: row === undefined ? 0 : toInt(row[0]), entries: row === undefined ? 0 : toInt(row[1]) };
  }

  async evict(policy: Exclude<EvictionPolicy, 'none'>, at: number, entries: number, bytes: number, limit: number): Promise<number> {
    const name = policy === 'lrs' ? 'evictLrs' : policy === 'lru' ? 'evictLru' : 'evictLfu';
    return (await this.ex.write(this.#statement(name, [at, limit, entries, bytes]))).rowsAffected;
  }

  async recordAccess(accesses: Accesses): Promise<void> {
    if (accesses.keys.length === 0) return;
    const statements = accesses.keys.map((key, i) => this.#statement('access', [accesses.times[i] as number, accesses.counts[i] as number, key]));
    await this.ex.batch(statements, 'write');
  }

  async addCounts(delta: Counts): Promise<void> {
    await this.ex.write(this.#statement('addCounts', COUNT_NAMES.map((c) => delta[c])));
  }

  async counts(): Promise<Counts> {
    const row = (await this.ex.read(this.#statement('counts', []))).rows[0];
    return Object.fromEntries(COUNT_NAMES.map((c, i) => [c, row === undefined ? 0 : toInt(row[i])])) as unknown as Counts;
  }

  async resetCounts(): Promise<void> {
    await this.ex.write(this.#statement('resetCounts', []));
  }
}

/** A guard's `stale()` is never asked on libSQL (its explanation needs a read, see {@link LibsqlRepository}); this says so if it were. */
export function guardOf(version: number, serializer: string): StoreGuard {
  return { version, serializer, stale: () => new KVError('ERR_KV_NO_SUCH_STORE', 'the store is no longer the one this handle opened') };
}
