import type { KeyRange } from '../core/key-range';
import { type EvictionPolicy, type Usage, limitsFromColumns } from '../core/limits';
import type { Repository, StoredRow, Update } from '../core/ports';
import type { TagList } from '../core/rules';
import { type Accesses, COUNT_NAMES, type Counts } from '../core/upkeep';
import type { EncodedValue } from '../schema/value';
import { isNotNullViolation } from './errors';
import type { PgQueries, PgQueryName } from './queries';
import type { PgSession } from './session';

/** What PostgreSQL stores for a value: bytes, for every serializer (a string as its UTF-8). */
function toBytes(value: EncodedValue): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The `size` column: the UTF-8 bytes of the key and of the stored value. */
function sizeOf(key: string, bytes: Buffer): number {
  return Buffer.byteLength(key) + bytes.byteLength;
}

/** An int8 as node-postgres returns it (a string), as the number it is (epoch ms fit a double exactly). */
function int(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function storedRow(row: unknown[] | undefined): StoredRow | undefined {
  return row === undefined ? undefined : [row[0] as Buffer, int(row[1])];
}

/** The advisory-lock key of one key of one store: how `update` serializes read-modify-writes of a key. */
const KEY_LOCK = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))';

/**
 * The queries of one store table on PostgreSQL, run as named prepared
 * statements on a session (a pool, a client, or a transaction's client).
 */
export class PgRepository implements Repository<'async'> {
  readonly #session: PgSession;
  readonly #queries: PgQueries;
  /** The table's qualified name, which prefixes the advisory-lock keys of its keys. */
  readonly #lockPrefix: string;
  readonly #guarded: boolean;
  readonly #stale: () => Promise<Error>;

  constructor(session: PgSession, queries: PgQueries, lockPrefix: string, guarded: boolean, stale: () => Promise<Error>) {
    this.#session = session;
    this.#queries = queries;
    this.#lockPrefix = lockPrefix;
    this.#guarded = guarded;
    this.#stale = stale;
  }

  /** The same repository on another session (a transaction's). */
  on(session: PgSession): PgRepository {
    return new PgRepository(session, this.#queries, this.#lockPrefix, this.#guarded, this.#stale);
  }

  #run(name: PgQueryName, args: Readonly<Record<string, unknown>>, session = this.#session) {
    const query = this.#queries.get(name);
    return session.run(
      query,
      query.order.map((placeholder) => args[placeholder]),
    );
  }

  async assertCurrent(): Promise<void> {
    if (!this.#guarded) return;
    const { rows } = await this.#run('current', {});
    if (rows.length === 0) throw await this.#stale();
  }

  async read(key: string): Promise<StoredRow | undefined> {
    const { rows } = await this.#run('read', { key });
    return storedRow(rows[0]);
  }

  async readMany(keys: readonly string[]): Promise<(StoredRow | undefined)[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.#run('readMany', { keys });
    const found = new Map(rows.map((row) => [row[0] as string, storedRow([row[1], row[2]])]));
    return keys.map((key) => found.get(key));
  }

  async expiry(key: string): Promise<number | null | undefined> {
    const { rows } = await this.#run('expiry', { key });
    return rows.length === 0 ? undefined : int(rows[0]?.[0]);
  }

  async write(key: string, value: EncodedValue, expiresAt: number | null, at: number, cull: number, tags: TagList): Promise<number> {
    await this.#upsert('write', key, value, expiresAt, at, tags);
    // The cull is a statement of its own: on a server, tying it to the write would only lengthen the write's locks.
    return cull > 0 ? this.#cull(at, cull) : 0;
  }

  async writeMany(
    keys: readonly string[],
    values: readonly EncodedValue[],
    expiresAt: number | null,
    at: number,
    cull: number,
    tags: TagList,
  ): Promise<number> {
    if (keys.length > 0) {
      const bytes = values.map(toBytes);
      await this.#guardedWrite(() => this.#run('writeMany', { keys, values: bytes, expiresAt, updatedAt: at, tags }));
    }
    return cull > 0 ? this.#cull(at, cull) : 0;
  }

  async writeIfAbsent(key: string, value: EncodedValue, expiresAt: number | null, at: number, tags: TagList): Promise<boolean> {
    if ((await this.#upsert('writeIfAbsent', key, value, expiresAt, at, tags)) > 0) return true;
    await this.assertCurrent();
    return false;
  }

  /**
   * A read-modify-write under a transaction-scoped advisory lock on the key:
   * under READ COMMITTED, `SELECT … FOR UPDATE` cannot lock a row that does
   * not exist yet, and two first increments would both insert. The lock is
   * released by COMMIT or ROLLBACK, and with the connection if it dies.
   */
  async update<T>(key: string, modify: (row: StoredRow | undefined) => Update<T>): Promise<T> {
    // The guard's refusal is explained after the transaction ended: the registry is read outside it.
    return this.#guardedWrite(() =>
      this.#session.transaction(async (tx) => {
        await tx.exec(KEY_LOCK, [`${this.#lockPrefix}:${key}`]);
        const { rows } = await this.#run('read', { key }, tx);
        const next = modify(storedRow(rows[0]));
        const bytes = toBytes(next.value);
        const row = { key, value: bytes, expiresAt: next.expiresAt, updatedAt: next.at, size: sizeOf(key, bytes), tags: null };
        await this.#run('writeKeepingTags', row, tx);
        return next.result;
      }),
    );
  }

  async remove(key: string): Promise<number | null | undefined> {
    const { rows } = await this.#run('remove', { key });
    if (rows.length === 0) {
      await this.assertCurrent();
      return undefined;
    }
    return int(rows[0]?.[0]);
  }

  async take(key: string): Promise<StoredRow | undefined> {
    const { rows } = await this.#run('take', { key });
    if (rows.length === 0) await this.assertCurrent();
    return storedRow(rows[0]);
  }

  async setExpiry(key: string, expiresAt: number | null, at: number): Promise<boolean> {
    const { rowCount } = await this.#run('setExpiry', { key, expiresAt, now: at });
    if (rowCount > 0) return true;
    await this.assertCurrent();
    return false;
  }

  async keys(range: KeyRange, at: number): Promise<string[]> {
    const { rows } = await this.#run(range.hi === undefined ? 'keysFrom' : 'keys', { lo: range.lo, hi: range.hi, now: at });
    return rows.map((row) => row[0] as string);
  }

  async entries(range: KeyRange, at: number): Promise<[string, EncodedValue][]> {
    const { rows } = await this.#run(range.hi === undefined ? 'entriesFrom' : 'entries', { lo: range.lo, hi: range.hi, now: at });
    return rows as [string, Buffer][];
  }

  async page(range: KeyRange, after: string | undefined, at: number, limit: number): Promise<[string, EncodedValue][]> {
    const bounded = range.hi !== undefined;
    const name: PgQueryName = after === undefined ? (bounded ? 'page' : 'pageFrom') : bounded ? 'pageAfter' : 'pageAfterFrom';
    const { rows } = await this.#run(name, { lo: range.lo, hi: range.hi, after, now: at, limit });
    return rows as [string, Buffer][];
  }

  async count(at: number): Promise<number> {
    const { rows } = await this.#run('count', { now: at });
    return Number(rows[0]?.[0] ?? 0);
  }

  async clear(range: KeyRange | undefined): Promise<number> {
    const name: PgQueryName = range === undefined ? 'clear' : range.hi === undefined ? 'clearFrom' : 'clearRange';
    const { rowCount } = await this.#run(name, { lo: range?.lo, hi: range?.hi });
    if (rowCount === 0) await this.assertCurrent();
    return rowCount;
  }

  async cull(at: number, limit: number): Promise<number> {
    const deleted = await this.#cull(at, limit);
    if (deleted === 0) await this.assertCurrent();
    return deleted;
  }

  async invalidate(tag: string): Promise<number> {
    const { rowCount } = await this.#run('invalidate', { tag });
    if (rowCount === 0) await this.assertCurrent();
    return rowCount;
  }

  async tagsOf(key: string, at: number): Promise<string[] | undefined> {
    const { rows } = await this.#run('tagsOf', { key, now: at });
    if (rows[0] === undefined) return undefined;
    return (rows[0][0] as string[] | null) ?? [];
  }

  async usage(): Promise<Usage> {
    const { rows } = await this.#run('usage', {});
    const row = rows[0];
    if (row === undefined) {
      await this.assertCurrent();
      return { bytes: 0, entries: 0, limits: null };
    }
    return { bytes: Number(row[0]), entries: Number(row[1]), limits: limitsFromColumns(row[2], row[3], row[4]) };
  }

  async measure(): Promise<{ bytes: number; entries: number }> {
    const { rows } = await this.#run('measure', {});
    return { bytes: Number(rows[0]?.[0] ?? 0), entries: Number(rows[0]?.[1] ?? 0) };
  }

  async evict(policy: Exclude<EvictionPolicy, 'none'>, at: number, entries: number, bytes: number, limit: number): Promise<number> {
    const name = policy === 'lrs' ? 'evictLrs' : policy === 'lru' ? 'evictLru' : 'evictLfu';
    const { rowCount } = await this.#run(name, { now: at, limit, entries, bytes });
    return rowCount;
  }

  async recordAccess(accesses: Accesses): Promise<void> {
    if (accesses.keys.length === 0) return;
    await this.#run('access', { keys: accesses.keys, times: accesses.times, counts: accesses.counts });
  }

  async addCounts(delta: Counts): Promise<void> {
    await this.#run('addCounts', delta as unknown as Record<string, unknown>);
  }

  async counts(): Promise<Counts> {
    const { rows } = await this.#run('counts', {});
    const row = rows[0];
    return Object.fromEntries(COUNT_NAMES.map((c, i) => [c, row === undefined ? 0 : Number(row[i])])) as unknown as Counts;
  }

  async resetCounts(): Promise<void> {
    await this.#run('resetCounts', {});
  }

  /** The cull after a write: the write was guarded already, so deleting nothing needs no registry check. */
  async #cull(at: number, limit: number): Promise<number> {
    const { rowCount } = await this.#run('cull', { now: at, limit });
    return rowCount;
  }

  #upsert(name: 'write' | 'writeIfAbsent', key: string, value: EncodedValue, expiresAt: number | null, at: number, tags: TagList): Promise<number> {
    const bytes = toBytes(value);
    return this.#guardedWrite(async () => {
      const { rowCount } = await this.#run(name, { key, value: bytes, expiresAt, updatedAt: at, size: sizeOf(key, bytes), tags, now: at });
      return rowCount;
    });
  }

  /** Runs a guarded upsert; a guard that refused it (the NULL size the NOT NULL column refuses) is thrown as its explanation. */
  async #guardedWrite<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (this.#guarded && isNotNullViolation(err)) throw await this.#stale();
      throw err;
    }
  }
}
