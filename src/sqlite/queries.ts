/**
 * Every query of one SQLite store table, as typed Drizzle (sqlite-core),
 * with the order its placeholders bind in and the shape its rows come back
 * in. The better-sqlite3 repository prepares them on the driver; libSQL
 * (SQLite inside) runs the same SQL.
 */
import { type SQL, and, asc, count, eq, exists, gt, gte, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { KeyRange } from '../core/key-range';
import { kvStores } from '../schema/database';
import type { KVTable } from '../schema/store';

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
export const upper = (range: KeyRange): string | Buffer => range.hi ?? NO_UPPER_BOUND;

/** The smallest key greater than `key`: resuming at `>= key + "\0"` is resuming strictly after `key`. */
export const successor = (key: string): string => `${key}\u0000`;

/** An SQL string literal (SQLite: quotes doubled; no other escapes exist). */
const literal = (text: string) => sql.raw(`'${text.replaceAll("'", "''")}'`);

/**
 * The condition on the registry row of `table` that {@link StoreGuard}
 * describes. Its values are literals, not placeholders: they are constant
 * for the handle, and binding them at every call would cost every write.
 */
export function guardCondition(table: string, guard: StoreGuard): SQL | undefined {
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
export function queryBuilders(db: BaseSQLiteDatabase<'sync' | 'async', unknown>, t: KVTable, guarded: SQL | undefined) {
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
export const GUARDED_QUERIES: ReadonlySet<string> = new Set(['write', 'writeIfAbsent', 'remove', 'take', 'setExpiry', 'clear', 'clearRange', 'cull']);

export type Builders = ReturnType<typeof queryBuilders>;
/** The name of one of a repository's queries. @internal */
export type QueryName = keyof Builders;

/**
 * For each query: the order its placeholders bind in (checked against the
 * SQL Drizzle generates), and how its rows come back: `raw` as arrays,
 * `pluck` as the first column, or nothing (`run`).
 */
export const SHAPES: Record<QueryName, { readonly order: readonly string[]; readonly rows?: 'raw' | 'pluck' }> = {
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

