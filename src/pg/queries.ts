/**
 * Every query of one PostgreSQL store table, as typed Drizzle (pg-core),
 * compiled once to SQL text, a statement name and the order its
 * placeholders bind in. The repository runs them as named prepared
 * statements on node-postgres.
 */
import { createHash } from 'node:crypto';
import { Param, Placeholder, type SQL, type SQLWrapper, and, asc, count, eq, exists, gt, gte, is, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { EVICTION_ORDER } from '../core/limits';
import { COUNT_NAMES } from '../core/upkeep';
import { PgDatabase, PgDialect } from 'drizzle-orm/pg-core';
import { getTableName } from 'drizzle-orm';
import type { PgKVTable, pgBookkeeping } from './schema';

const key = sql.placeholder('key');
const keys = sql.placeholder('keys');
const value = sql.placeholder('value');
const values = sql.placeholder('values');
const expiresAt = sql.placeholder('expiresAt');
const now = sql.placeholder('now');
const lo = sql.placeholder('lo');
const hi = sql.placeholder('hi');
const after = sql.placeholder('after');
const limit = sql.placeholder('limit');
const updatedAt = sql.placeholder('updatedAt');
const size = sql.placeholder('size');
const tags = sql.placeholder('tags');
const tag = sql.placeholder('tag');
const entries = sql.placeholder('entries');
const bytes = sql.placeholder('bytes');
const times = sql.placeholder('times');
const counts = sql.placeholder('counts');

/** The registry row a managed store's writes are conditioned on (see the SQLite repository's `StoreGuard`). */
export interface PgGuard {
  readonly table: string;
  readonly version: number;
  readonly serializer: string;
}

/** An SQL string literal (standard_conforming_strings: quotes doubled, nothing else escaped). */
const literal = (text: string) => sql.raw(`'${text.replaceAll("'", "''")}'`);

/** A Drizzle database used only to build SQL: it never runs a query. */
const builder = new PgDatabase(new PgDialect(), undefined as never, undefined);

type Bookkeeping = ReturnType<typeof pgBookkeeping>;

/**
 * Every query of one store table, as a function that builds it. With a
 * guard, every write is conditioned on the store's registry row: an upsert
 * leaves `size` NULL, which the NOT NULL column refuses, and a delete or
 * update changes nothing, so no write lands in a store that was dropped,
 * migrated by a newer release or recreated with another serializer.
 */
/**
 * The eviction query of `columns`' order: of the first `limit` rows in that
 * order written before `now` (see `Upkeep`: under LFU a write never evicts
 * what it wrote, a new entry never read yet being otherwise the first to go)
 * order (read through the policy's index), the rows that bring the store
 * `entries` rows and `bytes` bytes down; a running count and size over at
 * most `limit` rows, never a scan of the table.
 */
function evictionQuery(t: PgKVTable, columns: readonly string[], guard: SQL | undefined): SQL {
  const order = sql.join(columns.map((c) => sql.identifier(c)), sql`, `);
  return sql`DELETE FROM ${t} WHERE ${sql.identifier('key')} = ANY(ARRAY(
    SELECT k FROM (
      SELECT k, row_number() OVER w AS n, sum(s) OVER w - s AS before FROM (
        SELECT ${sql.identifier('key')} AS k, ${sql.identifier('size')} AS s, ${order} FROM ${t} WHERE ${sql.identifier('updated_at')} < ${now} ORDER BY ${order} LIMIT ${limit}
      ) AS firsts
      WINDOW w AS (ORDER BY ${order} ROWS UNBOUNDED PRECEDING)
    ) AS ranked
    WHERE n <= ${entries}::bigint OR before < ${bytes}::bigint
  ))${guard === undefined ? sql`` : sql` AND ${guard}`}`;
}

function queryBuilders(t: PgKVTable, bookkeeping: Bookkeeping, guard: PgGuard | undefined) {
  const db = builder;
  const registry = bookkeeping.kvStores;
  const counters = bookkeeping.kvCounters;
  const name = literal(getTableName(t));
  const live = or(isNull(t.expiresAt), gt(t.expiresAt, now));
  const guarded: SQL | undefined =
    guard &&
    and(
      eq(registry.name, literal(guard.table)),
      eq(registry.version, sql.raw(String(guard.version))),
      eq(registry.serializer, literal(guard.serializer)),
    );
  const current = guarded && exists(db.select({ one: sql`1` }).from(registry).where(guarded));
  const guardedSize = (s: SQL | typeof size) => (current === undefined ? s : sql`CASE WHEN ${current} THEN ${s}::bigint END`);
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
  const row = () =>
    db.insert(t).values({ key, value, expiresAt, updatedAt, size: guardedSize(size), accessedAt: sql`${updatedAt}`, hits: sql`0`, tags: sql`${tags}::text[]` });
  const sumOf = (column: SQLWrapper) => sql<number>`coalesce(sum(${column}), 0)::float8`;
  const thisStore = eq(counters.store, name);
  const bounded = (from: SQL | undefined) => and(from, lt(t.key, hi), live);
  const unbounded = (from: SQL | undefined) => and(from, live);
  return {
    read: () => db.select({ value: t.value, expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)),
    // One round trip for any number of keys: an array parameter.
    readMany: () => db.select({ key: t.key, value: t.value, expiresAt: t.expiresAt }).from(t).where(sql`${t.key} = ANY(${keys}::text[])`),
    expiry: () => db.select({ expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)),
    write: () => row().onConflictDoUpdate({ target: t.key, set: replaceRow }),
    writeKeepingTags: () => row().onConflictDoUpdate({ target: t.key, set: updateRow }),
    // Every row of a batch in one statement, whatever its size: two array parameters, unnested; the size column
    // (UTF-8 bytes of key and value) computed by the server, as the repository computes it for single writes.
    writeMany: () =>
      sql`INSERT INTO ${t} (${sql.identifier('key')}, ${sql.identifier('value')}, ${sql.identifier('expires_at')}, ${sql.identifier('updated_at')}, ${sql.identifier('size')}, ${sql.identifier('accessed_at')}, ${sql.identifier('tags')})
        SELECT k, v, ${expiresAt}::bigint, ${updatedAt}::bigint, ${guardedSize(sql`octet_length(k) + octet_length(v)`)}, ${updatedAt}::bigint, ${tags}::text[] FROM unnest(${keys}::text[], ${values}::bytea[]) AS u(k, v)
        ON CONFLICT (${sql.identifier('key')}) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at,
          size = excluded.size, accessed_at = excluded.accessed_at, hits = 0, tags = excluded.tags`,
    // Inserts, or replaces only an expired row: "set if absent" in one atomic statement.
    writeIfAbsent: () =>
      row()
        .onConflictDoUpdate({ target: t.key, set: replaceRow, setWhere: and(isNotNull(t.expiresAt), lte(t.expiresAt, now)) })
        .returning({ key: t.key }),
    remove: () => db.delete(t).where(and(eq(t.key, key), current)).returning({ expiresAt: t.expiresAt }),
    take: () => db.delete(t).where(and(eq(t.key, key), current)).returning({ value: t.value, expiresAt: t.expiresAt }),
    setExpiry: () => db.update(t).set({ expiresAt: sql`${expiresAt}` }).where(and(eq(t.key, key), live, current)),
    keys: () => db.select({ key: t.key }).from(t).where(bounded(gte(t.key, lo))).orderBy(asc(t.key)),
    keysFrom: () => db.select({ key: t.key }).from(t).where(unbounded(gte(t.key, lo))).orderBy(asc(t.key)),
    entries: () => db.select({ key: t.key, value: t.value }).from(t).where(bounded(gte(t.key, lo))).orderBy(asc(t.key)),
    entriesFrom: () => db.select({ key: t.key, value: t.value }).from(t).where(unbounded(gte(t.key, lo))).orderBy(asc(t.key)),
    page: () => db.select({ key: t.key, value: t.value }).from(t).where(bounded(gte(t.key, lo))).orderBy(asc(t.key)).limit(limit),
    pageFrom: () => db.select({ key: t.key, value: t.value }).from(t).where(unbounded(gte(t.key, lo))).orderBy(asc(t.key)).limit(limit),
    pageAfter: () => db.select({ key: t.key, value: t.value }).from(t).where(bounded(gt(t.key, after))).orderBy(asc(t.key)).limit(limit),
    pageAfterFrom: () => db.select({ key: t.key, value: t.value }).from(t).where(unbounded(gt(t.key, after))).orderBy(asc(t.key)).limit(limit),
    count: () => db.select({ n: count() }).from(t).where(live),
    clear: () => db.delete(t).where(current),
    clearRange: () => db.delete(t).where(and(gte(t.key, lo), lt(t.key, hi), current)),
    clearFrom: () => db.delete(t).where(and(gte(t.key, lo), current)),
    // Through the partial expiry index; SKIP LOCKED: concurrent culls take different rows instead of waiting.
    // ORDER BY expires_at lets the index answer even before the table has statistics, and `= ANY(ARRAY(…))`
    // deletes by primary key: a fresh store would otherwise be planned as a scan of the whole table.
    cull: () =>
      db
        .delete(t)
        .where(
          and(
            sql`${t.key} = ANY(ARRAY(${db.select({ key: t.key }).from(t).where(lte(t.expiresAt, now)).orderBy(asc(t.expiresAt)).limit(limit)} FOR UPDATE SKIP LOCKED))`,
            current,
          ),
        ),
    // Through the GIN index on tags.
    invalidate: () => db.delete(t).where(and(sql`${t.tags} @> ARRAY[${tag}::text]`, current)),
    tagsOf: () => db.select({ tags: t.tags }).from(t).where(and(eq(t.key, key), live)),
    // The counters' shards summed, and the limits recorded now: one row, whichever process changed them.
    usage: () =>
      db
        .select({
          bytes: sumOf(counters.bytes),
          entries: sumOf(counters.entries),
          maxBytes: registry.maxBytes,
          maxEntries: registry.maxEntries,
          eviction: registry.eviction,
        })
        .from(registry)
        .leftJoin(counters, eq(counters.store, registry.name))
        .where(eq(registry.name, name))
        .groupBy(registry.name),
    measure: () => db.select({ bytes: sumOf(t.size), entries: sql<number>`count(*)::float8` }).from(t),
    evictLrs: () => evictionQuery(t, EVICTION_ORDER.lrs, current),
    evictLru: () => evictionQuery(t, EVICTION_ORDER.lru, current),
    evictLfu: () => evictionQuery(t, EVICTION_ORDER.lfu, current),
    // Folds reads in, one statement for the batch: rows deleted since are skipped, a later write's time kept.
    access: () =>
      sql`UPDATE ${t} SET accessed_at = GREATEST(${t}.accessed_at, u.at), hits = ${t}.hits + u.n
        FROM unnest(${keys}::text[], ${times}::bigint[], ${counts}::bigint[]) AS u(k, at, n) WHERE ${t}.key = u.k`,
    // Into this connection's shard, as the triggers do.
    addCounts: () =>
      sql`INSERT INTO ${counters} AS c (store, shard, ${sql.join(COUNT_NAMES.map((c) => sql.identifier(c)), sql`, `)})
        VALUES (${name}, pg_backend_pid() % 16, ${sql.join(COUNT_NAMES.map((c) => sql`${sql.placeholder(c)}::bigint`), sql`, `)})
        ON CONFLICT (store, shard) DO UPDATE SET ${sql.join(COUNT_NAMES.map((c) => sql`${sql.identifier(c)} = c.${sql.identifier(c)} + excluded.${sql.identifier(c)}`), sql`, `)}`,
    counts: () =>
      db
        .select(Object.fromEntries(COUNT_NAMES.map((c) => [c, sumOf(counters[c])])) as Record<(typeof COUNT_NAMES)[number], SQL<number>>)
        .from(counters)
        .where(thisStore),
    resetCounts: () =>
      db
        .update(counters)
        .set(Object.fromEntries(COUNT_NAMES.map((c) => [c, sql`0`])))
        .where(thisStore),
    // Whether the guard holds (assertCurrent).
    current: () => db.select({ one: sql`1` }).from(registry).where(guarded ?? sql`true`),
  };
}

/** The name of one of a store's queries. */
export type PgQueryName = keyof ReturnType<typeof queryBuilders>;

/** A compiled query: SQL text, its prepared-statement name, and the placeholders its parameters stand for, in order. */
export interface PgQuery {
  readonly name: string;
  readonly text: string;
  readonly order: readonly string[];
}

/** The placeholder a query parameter stands for, if it is one. */
function placeholderName(param: unknown): string | undefined {
  if (is(param, Placeholder)) return param.name;
  if (is(param, Param) && is(param.value, Placeholder)) return param.value.name;
  return undefined;
}

const dialect = new PgDialect();

/**
 * Compiles a query. Its statement name is a hash of its text: names must be
 * unique per connection, and two stores' queries differ in their table.
 */
export function compilePg(query: SQL | { toSQL(): { sql: string; params: unknown[] } }): PgQuery {
  const { sql: text, params } = 'toSQL' in query ? query.toSQL() : dialect.sqlToQuery(query);
  const order = params.map((param) => {
    const name = placeholderName(param);
    if (name === undefined) throw new Error(`drizzle-kv: a parameter of ${text} is not a placeholder`);
    return name;
  });
  const name = `kv_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`;
  return { name, text, order };
}

/** The queries of one store table, compiled on first use. */
export class PgQueries {
  readonly #build: ReturnType<typeof queryBuilders>;
  readonly #compiled = new Map<PgQueryName, PgQuery>();

  constructor(table: PgKVTable, bookkeeping: Bookkeeping, guard: PgGuard | undefined) {
    this.#build = queryBuilders(table, bookkeeping, guard);
  }

  get(name: PgQueryName): PgQuery {
    let query = this.#compiled.get(name);
    if (query === undefined) {
      const built = this.#build[name]();
      query = compilePg(built as SQL | { toSQL(): { sql: string; params: unknown[] } });
      this.#compiled.set(name, query);
    }
    return query;
  }
}
