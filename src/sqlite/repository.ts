import type { Statement } from 'better-sqlite3';
import { Param, Placeholder, is } from 'drizzle-orm';
import type { Connection } from './connection';
import type { KeyRange } from '../core/key-range';
import { type EvictionPolicy, type Usage, limitsFromColumns } from '../core/limits';
import type { Repository, StoredRow, Update } from '../core/ports';
import type { TagList } from '../core/rules';
import { type Accesses, COUNT_NAMES, type Counts } from '../core/upkeep';
import { type Builders, GUARDED_QUERIES, type QueryName, SHAPES, type StoreGuard, guardCondition, queryBuilders, successor, upper } from './queries';
import { type EncodedValue, entrySize, kvTable } from '../schema/store';

export type { QueryName, StoreGuard };

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
  write(k: string, v: EncodedValue, exp: number | null, at: number, cull: number, tags: TagList): number {
    if (cull === 0) {
      this.#insert('write', k, v, exp, at, tags);
      return 0;
    }
    const culled = this.immediate(() => {
      this.#insert('write', k, v, exp, at, tags);
      return this.#cull(at, cull);
    });
    this.#conn.maintain();
    return culled;
  }

  /** Writes every row in one IMMEDIATE transaction (the guard checked once, when it begins), then culls. */
  writeMany(keys: readonly string[], values: readonly EncodedValue[], exp: number | null, at: number, cull: number, tags: TagList): number {
    const culled = this.immediate(() => {
      for (let i = 0; i < keys.length; i++) this.#insert('write', keys[i] as string, values[i] as EncodedValue, exp, at, tags);
      return cull > 0 ? this.#cull(at, cull) : 0;
    });
    this.#conn.maintain();
    return culled;
  }

  /** A read-modify-write in one IMMEDIATE transaction: the write lock is held from the read on. The row keeps its tags. */
  update<T>(k: string, modify: (row: StoredRow | undefined) => Update<T>): T {
    return this.immediate(() => {
      const next = modify(this.read(k));
      this.#insert('writeKeepingTags', k, next.value, next.expiresAt, next.at, null);
      return next.result;
    });
  }

  /** The rows of `keys`, in one DEFERRED transaction: one snapshot, no write lock. */
  readMany(keys: readonly string[]): (StoredRow | undefined)[] {
    return this.snapshot(() => keys.map((k) => this.read(k)));
  }

  /** Writes unless a live row holds `k` at `at`. Returns whether it wrote. */
  writeIfAbsent(k: string, v: EncodedValue, exp: number | null, at: number, tags: TagList): boolean {
    if (this.#insert('writeIfAbsent', k, v, exp, at, tags, at) > 0) return true;
    this.assertCurrent();
    return false;
  }

  /** Runs an upsert; a guard that refused it (the size it leaves NULL, see queryBuilders) is thrown as its error. */
  #insert(
    name: 'write' | 'writeKeepingTags' | 'writeIfAbsent',
    k: string,
    v: EncodedValue,
    exp: number | null,
    at: number,
    tags: TagList,
    ...rest: number[]
  ): number {
    try {
      return this.#q(name).run(k, v, exp, at, entrySize(k, v), at, tags === null ? null : JSON.stringify(tags), ...rest).changes;
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
    const changes = this.#cull(at, n);
    if (changes === 0) this.assertCurrent();
    return changes;
  }

  /** The cull after a write, which checked the guard already. */
  #cull(at: number, n: number): number {
    return this.#q('cull').run(at, n).changes;
  }

  invalidate(tag: string): number {
    const { changes } = this.#q('invalidate').run(tag);
    if (changes === 0) this.assertCurrent();
    return changes;
  }

  tagsOf(k: string, at: number): string[] | undefined {
    const row = this.#q('tagsOf').all(k, at) as (string | null)[];
    if (row.length === 0) return undefined;
    return row[0] === null || row[0] === undefined ? [] : (JSON.parse(row[0]) as string[]);
  }

  usage(): Usage {
    const row = this.#q('usage').get() as [number | null, number | null, number | null, number | null, string | null] | undefined;
    if (row === undefined) {
      this.assertCurrent();
      return { bytes: 0, entries: 0, limits: null };
    }
    return { bytes: row[0] ?? 0, entries: row[1] ?? 0, limits: limitsFromColumns(row[2], row[3], row[4]) };
  }

  measure(): { bytes: number; entries: number } {
    const [bytes, entries] = this.#q('measure').get() as [number, number];
    return { bytes, entries };
  }

  evict(policy: Exclude<EvictionPolicy, 'none'>, at: number, entries: number, bytes: number, limit: number): number {
    const name = policy === 'lrs' ? 'evictLrs' : policy === 'lru' ? 'evictLru' : 'evictLfu';
    return this.#q(name).run(at, limit, entries, bytes).changes;
  }

  /** Folds reads in, in one IMMEDIATE transaction (the caller's, when it runs in one). */
  recordAccess(accesses: Accesses): void {
    const statement = this.#q('access');
    this.immediate(() => {
      accesses.keys.forEach((k, i) => statement.run(accesses.times[i], accesses.counts[i], k));
    });
  }

  addCounts(delta: Counts): void {
    this.#q('addCounts').run(...COUNT_NAMES.map((c) => delta[c]));
  }

  counts(): Counts {
    const row = (this.#q('counts').get() as number[] | undefined) ?? [];
    return Object.fromEntries(COUNT_NAMES.map((c, i) => [c, row[i] ?? 0])) as unknown as Counts;
  }

  resetCounts(): void {
    this.#q('resetCounts').run();
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
