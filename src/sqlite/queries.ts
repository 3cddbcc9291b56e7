/**
 * Every query of one SQLite store table, as typed Drizzle (sqlite-core),
 * with the order its placeholders bind in and the shape its rows come back
 * in. The better-sqlite3 repository prepares them on the driver; libSQL
 * (SQLite inside) runs the same SQL.
 */
import { type SQL, type SQLWrapper, and, asc, count, eq, exists, getTableName, gt, gte, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { type BaseSQLiteDatabase, SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import type { KeyRange } from '../core/key-range';
import { EVICTION_ORDER } from '../core/limits';
import { COUNT_NAMES } from '../core/upkeep';
import { kvCounters, kvStores, kvTags } from '../schema/database';
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
const tags = sql.placeholder('tags');
const tag = sql.placeholder('tag');
const entries = sql.placeholder('entries');
const bytes = sql.placeholder('bytes');
const accessedAt = sql.placeholder('accessedAt');
const hits = sql.placeholder('hits');

const dialect = new SQLiteSyncDialect();
/** A query written as SQL (one Drizzle has no builder for), in the builders' shape. */
const raw = (query: SQL) => ({ toSQL: () => dialect.sqlToQuery(query) });

/**
 * The eviction query of `order`'s columns: of the first `limit` rows in that
 * order written before `now` (see `Upkeep`: under LFU a write never evicts
 * what it wrote, a new entry never read yet being otherwise the first to go)
 * order (read through the policy's index), the rows that bring the store
 * `entries` rows and `bytes` bytes down: a running count and running size
 * over at most `limit` rows, never a scan of the table.
 */
export function evictionQuery(table: SQL, columns: readonly string[], guard: SQL | undefined): SQL {
  const order = sql.join(columns.map((c) => sql.identifier(c)), sql`, `);
  return sql`DELETE FROM ${table} WHERE ${sql.identifier('key')} IN (
    SELECT k FROM (
      SELECT k, row_number() OVER w AS n, sum(s) OVER w - s AS before FROM (
        SELECT ${sql.identifier('key')} AS k, ${sql.identifier('size')} AS s, ${order} FROM ${table} WHERE ${sql.identifier('updated_at')} < ${now} ORDER BY ${order} LIMIT ${limit}
      ) AS firsts
      WINDOW w AS (ORDER BY ${order} ROWS UNBOUNDED PRECEDING)
    ) AS ranked
    WHERE n <= ${entries} OR before < ${bytes}
  )${guard === undefined ? sql`` : sql` AND ${guard}`}`;
}
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
  const name = literal(getTableName(t));
  // A write replaces the value, its expiry and tags, and counts as an access (hits start again).
  const replaceRow = {
    value: sql`excluded.value`,
    expiresAt: sql`excluded.expires_at`,
    updatedAt: sql`excluded.updated_at`,
    size: sql`excluded.size`,
    accessedAt: sql`excluded.accessed_at`,
    hits: sql`0`,
    tags: sql`excluded.tags`,
  };
  // What a read-modify-write (incr) replaces: the row keeps its tags.
  const { tags: _keptTags, ...updateRow } = replaceRow;
  // The row to insert. Guarded, its size is NULL when the registry row is not the one this handle
  // opened, which the NOT NULL column refuses: the statement fails, in itself, and writes nothing.
  // (A guard in a scalar subquery costs a third of one as INSERT … SELECT FROM the registry.)
  const row = () =>
    db.insert(t).values({
      key,
      value,
      expiresAt,
      updatedAt,
      size: current === undefined ? size : sql`CASE WHEN ${current} THEN ${size} END`,
      accessedAt: sql`${updatedAt}`,
      hits: sql`0`,
      tags,
    });
  const sumOf = (column: SQLWrapper) => sql<number>`coalesce(sum(${column}), 0)`;
  return {
    read: () => db.select({ value: t.value, expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)),
    expiry: () => db.select({ expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)),
    write: () => row().onConflictDoUpdate({ target: t.key, set: replaceRow }),
    writeKeepingTags: () => row().onConflictDoUpdate({ target: t.key, set: updateRow }),
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
    // Through the tag index's primary key (store, tag); the table's delete trigger removes the tag rows.
    invalidate: () =>
      db
        .delete(t)
        .where(
          and(
            inArray(t.key, db.select({ key: kvTags.key }).from(kvTags).where(and(eq(kvTags.store, name), eq(kvTags.tag, tag)))),
            current,
          ),
        ),
    tagsOf: () => db.select({ tags: t.tags }).from(t).where(and(eq(t.key, key), live)),
    // The counters the triggers keep (one row: SQLite has one writer), and the limits recorded now, whichever process changed them.
    usage: () =>
      db
        .select({
          bytes: kvCounters.bytes,
          entries: kvCounters.entries,
          maxBytes: kvStores.maxBytes,
          maxEntries: kvStores.maxEntries,
          eviction: kvStores.eviction,
        })
        .from(kvStores)
        .leftJoin(kvCounters, and(eq(kvCounters.store, kvStores.name), eq(kvCounters.shard, sql`0`)))
        .where(eq(kvStores.name, name)),
    measure: () => db.select({ bytes: sumOf(t.size), entries: count() }).from(t),
    evictLrs: () => raw(evictionQuery(sql`${t}`, EVICTION_ORDER.lrs, current)),
    evictLru: () => raw(evictionQuery(sql`${t}`, EVICTION_ORDER.lru, current)),
    evictLfu: () => raw(evictionQuery(sql`${t}`, EVICTION_ORDER.lfu, current)),
    // Folds reads in: rows deleted since are skipped, and a later write's time is kept.
    access: () =>
      db
        .update(t)
        .set({ accessedAt: sql`max(${t.accessedAt}, ${accessedAt})`, hits: sql`${t.hits} + ${hits}` })
        .where(eq(t.key, key)),
    // Into the store's row, made if it is not there yet (a store without limits has none).
    addCounts: () =>
      db
        .insert(kvCounters)
        .values({ store: name, shard: sql`0`, bytes: sql`0`, entries: sql`0`, ...Object.fromEntries(COUNT_NAMES.map((c) => [c, sql.placeholder(c)])) })
        .onConflictDoUpdate({
          target: [kvCounters.store, kvCounters.shard],
          set: Object.fromEntries(COUNT_NAMES.map((c) => [c, sql`${kvCounters[c]} + excluded.${sql.identifier(c)}`])),
        }),
    counts: () =>
      db
        .select(Object.fromEntries(COUNT_NAMES.map((c) => [c, sumOf(kvCounters[c])])) as Record<(typeof COUNT_NAMES)[number], SQL<number>>)
        .from(kvCounters)
        .where(eq(kvCounters.store, name)),
    resetCounts: () =>
      db
        .update(kvCounters)
        .set(Object.fromEntries(COUNT_NAMES.map((c) => [c, sql`0`])))
        .where(eq(kvCounters.store, name)),
    // Whether the guard holds (KVRepository#assertCurrent); always taken from the guarded queries.
    current: () => db.select({ one: sql`1` }).from(kvStores).where(guarded ?? sql`1`),
  };
}

/** The queries that write, and so carry the guard outside a transaction that checked it. */
export const GUARDED_QUERIES: ReadonlySet<string> = new Set([
  'write',
  'writeKeepingTags',
  'writeIfAbsent',
  'remove',
  'take',
  'setExpiry',
  'clear',
  'clearRange',
  'cull',
  'invalidate',
  'evictLrs',
  'evictLru',
  'evictLfu',
]);

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
  write: { order: ['key', 'value', 'expiresAt', 'updatedAt', 'size', 'updatedAt', 'tags'] },
  writeKeepingTags: { order: ['key', 'value', 'expiresAt', 'updatedAt', 'size', 'updatedAt', 'tags'] },
  writeIfAbsent: { order: ['key', 'value', 'expiresAt', 'updatedAt', 'size', 'updatedAt', 'tags', 'now'] },
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
  invalidate: { order: ['tag'] },
  tagsOf: { order: ['key', 'now'], rows: 'pluck' },
  usage: { order: [], rows: 'raw' },
  measure: { order: [], rows: 'raw' },
  evictLrs: { order: ['now', 'limit', 'entries', 'bytes'] },
  evictLru: { order: ['now', 'limit', 'entries', 'bytes'] },
  evictLfu: { order: ['now', 'limit', 'entries', 'bytes'] },
  access: { order: ['accessedAt', 'hits', 'key'] },
  addCounts: { order: [...COUNT_NAMES] },
  counts: { order: [], rows: 'raw' },
  resetCounts: { order: [] },
  current: { order: [], rows: 'pluck' },
};

