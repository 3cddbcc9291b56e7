import type { Statement } from 'better-sqlite3';
import { Param, Placeholder, type SQL, and, asc, count, eq, exists, gt, gte, inArray, is, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { Connection } from './connection';
import type { KeyRange } from '../core/key-range';
import type { Repository, StoredRow, Update } from '../core/ports';
import { kvStores } from '../schema/database';
import { type EncodedValue, type KVTable, entrySize, kvTable } from '../schema/store';

const key = sql.placeholder('key');
const value = sql.placeholder('value');
const expiresAt = sql.placeholder('expiresAt');
const now = sql.placeholder('now');
const lo = sql.placeholder('lo');
const hi = sql.placeholder('hi');
const limit = sql.placeholder('limit');
const updatedAt = sql.placeholder('updatedAt');
const size = sql.placeholder('size');

/**
 * The registry row a managed store's writes are conditioned on: the store's
 * name, the format version and the serializer this handle writes. Another
 * process may migrate the store (a newer release) or drop and recreate it
 * (another serializer) while this handle is open; every write then finds no
 * such row and is refused in the same statement (an upsert fails, a delete or
 * update changes nothing), so no row of the old format or serializer ever
 * lands in the table.
 */
export interface StoreGuard {
  readonly version: number;
  readonly serializer: string;
  /** The error explaining why the guard no longer holds (read from the registry). */
  stale(): Error;
}

/**
 * The upper bound of a range as SQLite compares it: an unbounded range ends
 * at the empty BLOB, since SQLite orders every TEXT value before every BLOB
 * (`key < x''` holds for all keys), which keeps one statement per query.
 */
const NO_UPPER_BOUND = Buffer.alloc(0);
const upper = (range: KeyRange): string | Buffer => range.hi ?? NO_UPPER_BOUND;

/** The smallest key greater than `key`: resuming at `>= key + "\0"` is resuming strictly after `key`. */
const successor = (key: string): string => `${key}\u0000`;

/** An SQL string literal (SQLite: quotes doubled; no other escapes exist). */
const literal = (text: string) => sql.raw(`'${text.replaceAll("'", "''")}'`);

/**
 * The condition on the registry row of `table` that {@link StoreGuard}
 * describes. Its values are literals, not placeholders: they are constant
 * for the handle, and binding them at every call would cost every write.
 */
function guardCondition(table: string, guard: StoreGuard): SQL | undefined {
  return and(
    eq(kvStores.name, literal(table)),
    eq(kvStores.version, sql.raw(String(guard.version))),
    eq(kvStores.serializer, literal(guard.serializer)),
  );
}

/**
 * Every query of one store table, typed Drizzle, as a function that builds
 * it. With a guard, every write is conditioned on it (see {@link StoreGuard}).
 */
function queryBuilders(db: BetterSQLite3Database, t: KVTable, guarded: SQL | undefined) {
  const live = or(isNull(t.expiresAt), gt(t.expiresAt, now));
  const inRange = and(gte(t.key, lo), lt(t.key, hi), live);
  const current = guarded && exists(db.select({ one: sql`1` }).from(kvStores).where(guarded));
  const replaceRow = {
    value: sql`excluded.value`,
    expiresAt: sql`excluded.expires_at`,
    updatedAt: sql`excluded.updated_at`,
    size: sql`excluded.size`,
  };
  // The row to insert. Guarded, its size is NULL when the registry row is not the one this handle
  // opened, which the NOT NULL column refuses: the statement fails, in itself, and writes nothing.
  // (A guard in a scalar subquery costs a third of one as INSERT … SELECT FROM the registry.)
  const row = () =>
    db.insert(t).values({ key, value, expiresAt, updatedAt, size: current === undefined ? size : sql`CASE WHEN ${current} THEN ${size} END` });
  return {
    read: () => db.select({ value: t.value, expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)),
    expiry: () => db.select({ expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)),
    write: () => row().onConflictDoUpdate({ target: t.key, set: replaceRow }),
    // Inserts, or replaces only an expired row: "set if absent" in one atomic statement.
    writeIfAbsent: () =>
      row().onConflictDoUpdate({ target: t.key, set: replaceRow, setWhere: and(isNotNull(t.expiresAt), lte(t.expiresAt, now)) }),
    remove: () => db.delete(t).where(and(eq(t.key, key), current)).returning({ expiresAt: t.expiresAt }),
    take: () => db.delete(t).where(and(eq(t.key, key), current)).returning({ value: t.value, expiresAt: t.expiresAt }),
    setExpiry: () => db.update(t).set({ expiresAt: sql`${expiresAt}` }).where(and(eq(t.key, key), live, current)),
    keys: () => db.select({ key: t.key }).from(t).where(inRange).orderBy(asc(t.key)),
    entries: () => db.select({ key: t.key, value: t.value }).from(t).where(inRange).orderBy(asc(t.key)),
    page: () => db.select({ key: t.key, value: t.value }).from(t).where(inRange).orderBy(asc(t.key)).limit(limit),
    count: () => db.select({ n: count() }).from(t).where(live),
    clear: () => db.delete(t).where(current),
    clearRange: () => db.delete(t).where(and(gte(t.key, lo), lt(t.key, hi), current)),
    // Goes through the partial expiry index: finding nothing expired is one index probe.
    cull: () =>
      db
        .delete(t)
        .where(and(inArray(t.key, db.select({ key: t.key }).from(t).where(lte(t.expiresAt, now)).limit(limit)), current)),
    // Whether the guard holds (KVRepository#assertCurrent); always taken from the guarded queries.
    current: () => db.select({ one: sql`1` }).from(kvStores).where(guarded ?? sql`1`),
  };
}

/** The queries that write, and so carry the guard outside a transaction that checked it. */
const GUARDED_QUERIES: ReadonlySet<string> = new Set(['write', 'writeIfAbsent', 'remove', 'take', 'setExpiry', 'clear', 'clearRange', 'cull']);

type Builders = ReturnType<typeof queryBuilders>;
/** The name of one of a repository's queries. @internal */
export type QueryName = keyof Builders;

/**
 * For each query: the order its placeholders bind in (checked against the
 * SQL Drizzle generates), and how its rows come back: `raw` as arrays,
 * `pluck` as the first column, or nothing (`run`).
 */
const SHAPES: Record<QueryName, { readonly order: readonly string[]; readonly rows?: 'raw' | 'pluck' }> = {
  read: { order: ['key'], rows: 'raw' },
  expiry: { order: ['key'], rows: 'pluck' },
  write: { order: ['key', 'value', 'expiresAt', 'updatedAt', 'size'] },
  writeIfAbsent: { order: ['key', 'value', 'expiresAt', 'updatedAt', 'size', 'now'] },
  remove: { order: ['key'], rows: 'pluck' },
  take: { order: ['key'], rows: 'raw' },
  setExpiry: { order: ['expiresAt', 'key', 'now'] },
  keys: { order: ['lo', 'hi', 'now'], rows: 'pluck' },
  entries: { order: ['lo', 'hi', 'now'], rows: 'raw' },
  page: { order: ['lo', 'hi', 'now', 'limit'], rows: 'raw' },
  count: { order: ['now'], rows: 'pluck' },
  clear: { order: [] },
  clearRange: { order: ['lo', 'hi'] },
  cull: { order: ['now', 'limit'] },
  current: { order: [], rows: 'pluck' },
};

/** The placeholder a query parameter stands for, if it is one. */
function placeholderName(param: unknown): string | undefined {
  if (is(param, Placeholder)) return param.name;
  if (is(param, Param) && is(param.value, Placeholder)) return param.value.name;
  return undefined;
}

/**
 * Prepares the SQL of a typed Drizzle query on the driver, once, after
 * checking that its placeholders bind in the order the repository passes
 * values. Executing the driver's statement directly skips Drizzle's per-call
 * work (filling placeholders, logging, mapping rows to objects): about 1 µs,
 * a third of a `get`. The columns of this table need no value mapping (text,
 * integer, and bytes as they are), so nothing is lost.
 */
function compile(conn: Connection, name: QueryName, query: { toSQL(): { sql: string; params: unknown[] } }): Statement {
  const { sql: text, params } = query.toSQL();
  const { order, rows } = SHAPES[name];
  const names = params.map(placeholderName);
  if (names.join() !== order.join()) {
    throw new Error(`drizzle-kv: ${text} binds (${names.join(', ')}), expected (${order.join(', ')})`);
  }
  const statement = conn.client.prepare(text);
  if (rows === 'raw') statement.raw(true);
  if (rows === 'pluck') statement.pluck(true);
  return statement;
}

/**
 * Typed Drizzle queries on one store table, built and prepared once each
 * (on first use), executed on the driver. It knows rows, not values:
 * serialization, TTL arithmetic and validation live in the store.
 */
export class KVRepository implements Repository<'sync'> {
  readonly #conn: Connection;
  readonly #table: string;
  /** The queries as they are, and (for a managed store) with every write conditioned on the guard. */
  #build: Builders | undefined;
  #guardedBuild: Builders | undefined;
  readonly #statements = new Map<QueryName, Statement>();
  readonly #guardedStatements = new Map<QueryName, Statement>();
  readonly #guard: StoreGuard | undefined;
  /**
   * Whether this repository is inside an {@link KVRepository.immediate}
   * transaction that checked the guard when it began: it holds the write
   * lock, so no other connection can change the registry before it ends,
   * and its writes need no guard of their own (setMany's thousands of rows
   * pay for one check, not one each).
   */
  #checked = false;

  /**
   * Nothing is built here: opening a store for one `get` should pay for that one query only.
   *
   * @param guard - for a store this library manages, the registry row every write is conditioned on;
   *   `undefined` for a table the app's own migrations manage (it has no registry row).
   */
  constructor(conn: Connection, table: string, guard?: StoreGuard) {
    this.#conn = conn;
    this.#table = table;
    this.#guard = guard;
  }

  /**
   * The statement of query `name`, built and prepared on first use: a CLI
   * process that opens a store for one `get` prepares one statement, not sixteen.
   */
  #q(name: QueryName): Statement {
    const guarded = this.#guard !== undefined && (name === 'current' || (!this.#checked && GUARDED_QUERIES.has(name)));
    const statements = guarded ? this.#guardedStatements : this.#statements;
    let statement = statements.get(name);
    if (statement === undefined) {
      const table = kvTable(this.#table);
      const builders = guarded
        ? (this.#guardedBuild ??= queryBuilders(this.#conn.db, table, this.#guard && guardCondition(this.#table, this.#guard)))
        : (this.#build ??= queryBuilders(this.#conn.db, table, undefined));
      statement = compile(this.#conn, name, builders[name]());
      statements.set(name, statement);
    }
    return statement;
  }

  /**
   * Throws the guard's error if it no longer holds. Asked when a guarded write
   * changed nothing or failed (so "nothing to change" is never confused with
   * "this handle's store is gone or changed"), when a transaction begins, and
   * by callers that met a row they cannot decode.
   */
  assertCurrent(): void {
    if (this.#guard !== undefined && this.#q('current').get() === undefined) throw this.#guard.stale();
  }

  /** The SQL text of query `name`, as prepared on the driver. For tests that check query plans. @internal */
  sqlOf(name: QueryName): string {
    return this.#q(name).source;
  }

  /** The row of `k`, live or expired. */
  read(k: string): StoredRow | undefined {
    return this.#q('read').get(k) as StoredRow | undefined;
  }

  /** The expiry of `k`'s row (`null`: never), live or expired; `undefined` when there is no row. */
  expiry(k: string): number | null | undefined {
    return this.#q('expiry').get(k) as number | null | undefined;
  }

  /**
   * Inserts or replaces the row of `k`, written at `at`. With a cull due, the
   * write and the cull share one IMMEDIATE transaction, and the file's `-wal`
   * is kept within its bound after it commits.
   */
  write(k: string, v: EncodedValue, exp: number | null, at: number, cull: number): void {
    if (cull === 0) {
      this.#insert('write', k, v, exp, at);
      return;
    }
    this.immediate(() => {
      this.#insert('write', k, v, exp, at);
      this.cull(at, cull);
    });
    this.#conn.maintain();
  }

  /** Writes every row in one IMMEDIATE transaction (the guard checked once, when it begins), then culls. */
  writeMany(keys: readonly string[], values: readonly EncodedValue[], exp: number | null, at: number, cull: number): void {
    this.immediate(() => {
      for (let i = 0; i < keys.length; i++) this.#insert('write', keys[i] as string, values[i] as EncodedValue, exp, at);
      if (cull > 0) this.cull(at, cull);
    });
    this.#conn.maintain();
  }

  /** A read-modify-write in one IMMEDIATE transaction: the write lock is held from the read on. */
  update<T>(k: string, modify: (row: StoredRow | undefined) => Update<T>): T {
    return this.immediate(() => {
      const next = modify(this.read(k));
      this.#insert('write', k, next.value, next.expiresAt, next.at);
      return next.result;
    });
  }

  /** The rows of `keys`, in one DEFERRED transaction: one snapshot, no write lock. */
  readMany(keys: readonly string[]): (StoredRow | undefined)[] {
    return this.snapshot(() => keys.map((k) => this.read(k)));
  }

  /** Writes unless a live row holds `k` at `at`. Returns whether it wrote. */
  writeIfAbsent(k: string, v: EncodedValue, exp: number | null, at: number): boolean {
    if (this.#insert('writeIfAbsent', k, v, exp, at, at) > 0) return true;
    this.assertCurrent();
    return false;
  }

  /** Runs an upsert; a guard that refused it (the size it leaves NULL, see queryBuilders) is thrown as its error. */
  #insert(name: 'write' | 'writeIfAbsent', k: string, v: EncodedValue, exp: number | null, at: number, ...rest: number[]): number {
    try {
      return this.#q(name).run(k, v, exp, at, entrySize(k, v), ...rest).changes;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_NOTNULL') this.assertCurrent();
      throw err;
    }
  }

  /**
   * Deletes the row of `k`, live or expired, in one statement. Returns its expiry (`undefined`: there was none).
   *
   * `DELETE … RETURNING` is stepped to its end (`all`, not `get`): an
   * autocommit statement commits when it finishes, and a statement stepped
   * once commits in its reset, whose error the driver drops — a failed commit
   * (disk full, busy) would then report a row deleted that is still there.
   */
  remove(k: string): number | null | undefined {
    const rows = this.#q('remove').all(k) as (number | null)[];
    if (rows.length === 0) this.assertCurrent();
    return rows.length === 0 ? undefined : rows[0];
  }

  /** Deletes the row of `k` and returns it, in one statement (stepped to its end, as {@link KVRepository.remove}). */
  take(k: string): StoredRow | undefined {
    const rows = this.#q('take').all(k) as StoredRow[];
    if (rows.length === 0) this.assertCurrent();
    return rows[0];
  }

  /** Sets the expiry of a live row. Returns whether there was one. */
  setExpiry(k: string, exp: number | null, at: number): boolean {
    if (this.#q('setExpiry').run(exp, k, at).changes > 0) return true;
    this.assertCurrent();
    return false;
  }

  /** Live keys in `range`, in key order. */
  keys(range: KeyRange, at: number): string[] {
    return this.#q('keys').all(range.lo, upper(range), at) as string[];
  }

  /** Live `[key, value]` rows in `range`, in key order. */
  entries(range: KeyRange, at: number): [string, EncodedValue][] {
    return this.#q('entries').all(range.lo, upper(range), at) as [string, EncodedValue][];
  }

  /** At most `n` live rows in `range` after `after`, in key order (one statement: `key >= successor(after)`). */
  page(range: KeyRange, after: string | undefined, at: number, n: number): [string, EncodedValue][] {
    const lo = after === undefined ? range.lo : successor(after);
    return this.#q('page').all(lo, upper(range), at, n) as [string, EncodedValue][];
  }

  /** The number of live rows. */
  count(at: number): number {
    return this.#q('count').get(at) as number;
  }

  /** Deletes every row (live or expired) in `range`, or in the table. Returns how many. */
  clear(range: KeyRange | undefined): number {
    const { changes } = range === undefined ? this.#q('clear').run() : this.#q('clearRange').run(range.lo, upper(range));
    if (changes === 0) this.assertCurrent();
    return changes;
  }

  /** Deletes at most `n` expired rows. Returns how many it deleted. */
  cull(at: number, n: number): number {
    const { changes } = this.#q('cull').run(at, n);
    if (changes === 0) this.assertCurrent();
    return changes;
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction (a savepoint when nested), which
   * for a managed store first checks the guard: a stale handle writes
   * nothing, and the writes inside need no guard of their own.
   */
  immediate<T>(fn: () => T): T {
    if (this.#guard === undefined || this.#checked) return this.#conn.immediate(fn);
    return this.#conn.immediate(() => {
      this.assertCurrent();
      this.#checked = true;
      try {
        return fn();
      } finally {
        this.#checked = false;
      }
    });
  }

  /** Runs reads in one consistent snapshot without taking the write lock. */
  snapshot<T>(fn: () => T): T {
    return this.#conn.snapshot(fn);
  }
}
