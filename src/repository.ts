import { and, asc, count, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { Connection } from './connection';
import type { KeyRange } from './key-range';
import type { EncodedValue, KVTable } from './schema/store';

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
 * Every query of one store table, as a function that builds and prepares it.
 * The repository calls each at most once, on first use: a CLI process that
 * opens a store for one `get` prepares one statement, not sixteen.
 */
function queryBuilders(db: BetterSQLite3Database, t: KVTable) {
  const live = or(isNull(t.expiresAt), gt(t.expiresAt, now));
  const inRange = and(gte(t.key, lo), lt(t.key, hi), live);
  const replaceRow = {
    value: sql`excluded.value`,
    expiresAt: sql`excluded.expires_at`,
    updatedAt: sql`excluded.updated_at`,
    size: sql`excluded.size`,
  };
  return {
    read: () => db.select({ value: t.value, expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)).prepare(),
    expiry: () => db.select({ expiresAt: t.expiresAt }).from(t).where(eq(t.key, key)).prepare(),
    write: () =>
      db
        .insert(t)
        .values({ key, value, expiresAt, updatedAt, size })
        .onConflictDoUpdate({ target: t.key, set: replaceRow })
        .prepare(),
    // Inserts, or replaces only an expired row: "set if absent" in one atomic statement.
    writeIfAbsent: () =>
      db
        .insert(t)
        .values({ key, value, expiresAt, updatedAt, size })
        .onConflictDoUpdate({ target: t.key, set: replaceRow, setWhere: and(isNotNull(t.expiresAt), lte(t.expiresAt, now)) })
        .prepare(),
    remove: () => db.delete(t).where(eq(t.key, key)).prepare(),
    take: () => db.delete(t).where(eq(t.key, key)).returning({ value: t.value, expiresAt: t.expiresAt }).prepare(),
    setExpiry: () => db.update(t).set({ expiresAt: sql`${expiresAt}` }).where(and(eq(t.key, key), live)).prepare(),
    keys: () => db.select({ key: t.key }).from(t).where(inRange).orderBy(asc(t.key)).prepare(),
    entries: () => db.select({ key: t.key, value: t.value }).from(t).where(inRange).orderBy(asc(t.key)).prepare(),
    page: () => db.select({ key: t.key, value: t.value }).from(t).where(inRange).orderBy(asc(t.key)).limit(limit).prepare(),
    count: () => db.select({ n: count() }).from(t).where(live).prepare(),
    clear: () => db.delete(t).prepare(),
    clearRange: () => db.delete(t).where(and(gte(t.key, lo), lt(t.key, hi))).prepare(),
    // Goes through the partial expiry index: finding nothing expired is one index probe.
    cull: () =>
      db
        .delete(t)
        .where(inArray(t.key, db.select({ key: t.key }).from(t).where(lte(t.expiresAt, now)).limit(limit)))
        .prepare(),
  };
}

/** A stored row as the store sees it. */
export interface StoredRow {
  readonly value: EncodedValue;
  readonly expiresAt: number | null;
}

/**
 * Typed, prepared Drizzle queries on one store table. It knows rows, not
 * values: serialization, TTL arithmetic and validation live in the store.
 */
type Builders = ReturnType<typeof queryBuilders>;
type Prepared = { [K in keyof Builders]: ReturnType<Builders[K]> };

export class KVRepository {
  readonly #build: Builders;
  readonly #prepared: Partial<Prepared> = {};
  readonly #conn: Connection;

  constructor(conn: Connection, table: KVTable) {
    this.#conn = conn;
    this.#build = queryBuilders(conn.db, table);
  }

  /** The prepared query `name`, built on first use. */
  #q<K extends keyof Builders>(name: K): Prepared[K] {
    return (this.#prepared[name] ??= this.#build[name]() as Prepared[K]) as Prepared[K];
  }

  /** The row of `k`, live or expired. */
  read(k: string): StoredRow | undefined {
    return this.#q('read').get({ key: k });
  }

  /** The expiry of `k`'s row, live or expired; `undefined` when there is no row. */
  expiry(k: string): { expiresAt: number | null } | undefined {
    return this.#q('expiry').get({ key: k });
  }

  /** Inserts or replaces the row of `k`, written at `at`, taking `bytes`. */
  write(k: string, v: EncodedValue, exp: number | null, at: number, bytes: number): void {
    this.#q('write').run({ key: k, value: v, expiresAt: exp, updatedAt: at, size: bytes });
  }

  /** Writes unless a live row holds `k` at `at`. Returns whether it wrote. */
  writeIfAbsent(k: string, v: EncodedValue, exp: number | null, at: number, bytes: number): boolean {
    return this.#q('writeIfAbsent').run({ key: k, value: v, expiresAt: exp, now: at, updatedAt: at, size: bytes }).changes > 0;
  }

  /** Deletes the row of `k`, live or expired. Returns whether there was one. */
  remove(k: string): boolean {
    return this.#q('remove').run({ key: k }).changes > 0;
  }

  /** Deletes the row of `k` and returns it, in one statement. */
  take(k: string): StoredRow | undefined {
    return this.#q('take').get({ key: k });
  }

  /** Sets the expiry of a live row. Returns whether there was one. */
  setExpiry(k: string, exp: number | null, at: number): boolean {
    return this.#q('setExpiry').run({ key: k, expiresAt: exp, now: at }).changes > 0;
  }

  /** Live keys in `range`, in key order. */
  keys(range: KeyRange, at: number): string[] {
    return this.#q('keys').values({ lo: range.lo, hi: range.hi, now: at }).map((row) => row[0] as string);
  }

  /** Live `[key, value]` rows in `range`, in key order. */
  entries(range: KeyRange, at: number): [string, EncodedValue][] {
    return this.#q('entries').values({ lo: range.lo, hi: range.hi, now: at }) as [string, EncodedValue][];
  }

  /** At most `n` live rows in `range`, in key order. */
  page(range: KeyRange, at: number, n: number): [string, EncodedValue][] {
    return this.#q('page').values({ lo: range.lo, hi: range.hi, now: at, limit: n }) as [string, EncodedValue][];
  }

  /** The number of live rows. */
  count(at: number): number {
    return this.#q('count').get({ now: at })?.n ?? 0;
  }

  /** Deletes every row (live or expired) in `range`, or in the table. Returns how many. */
  clear(range?: KeyRange): number {
    return range === undefined ? this.#q('clear').run().changes : this.#q('clearRange').run({ lo: range.lo, hi: range.hi }).changes;
  }

  /** Deletes at most `n` expired rows. Returns how many it deleted. */
  cull(at: number, n: number): number {
    return this.#q('cull').run({ now: at, limit: n }).changes;
  }

  /** Runs `fn` in an IMMEDIATE transaction (a savepoint when nested). */
  immediate<T>(fn: () => T): T {
    return this.#conn.immediate(fn);
  }

  /** Runs reads in one consistent snapshot without taking the write lock. */
  snapshot<T>(fn: () => T): T {
    return this.#conn.snapshot(fn);
  }
}
