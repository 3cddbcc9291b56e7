import type { Connection } from './connection';
import { KVError, KVRangeError, KVTypeError } from '../core/errors';
import { assertOptionsObject } from '../core/options';
import { parseJsonDialect } from '../core/json-dialect';
import { createStore, migrateDatabase } from './migrator';
import { assertStoreName } from '../core/names';
import { Registry } from './registry';
import { entrySize, kvTable } from '../schema/store';
import { describe } from '../core/describe';

/** Options of `KVDatabase#adoptKvCache`. */
export interface AdoptKvCacheOptions {
  /**
   * The kv-cache tables to adopt.
   * @default every table of the file in kv-cache's layout
   */
  tables?: string[];
  /**
   * The IANA time zone the Python program ran in: kv-cache wrote expiry
   * times as naive local time (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
   * @default the zone of this process (`TZ`, or the system's)
   */
  timeZone?: string;
}

/** What adopting one table did. */
export interface AdoptedTable {
  /** The table, now a store of the same name. */
  readonly table: string;
  /** Rows converted (all of them, expired ones included: they stay expired). */
  readonly rows: number;
  /** How many of those rows were already expired. */
  readonly expired: number;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** A formatter of instants as wall-clock fields in `timeZone`; refuses an unknown zone. */
export function zoneFormatter(timeZone: string): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (err) {
    throw new KVRangeError('ERR_KV_INVALID_OPTION', `adoptKvCache: unknown time zone ${describe(timeZone)}`, { cause: err });
  }
}

/** Milliseconds the zone's wall clock is ahead of UTC at the instant `epoch` (whole seconds). */
function zoneOffset(format: Intl.DateTimeFormat, epoch: number): number {
  const at = Math.floor(epoch / 1000) * 1000;
  const part = (type: string) => Number(format.formatToParts(at).find((p) => p.type === type)?.value);
  return Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second')) - at;
}

/**
 * Converts a kv-cache expiry (naive local time in the zone `format` is for)
 * into epoch milliseconds. Microseconds are truncated, so an expired row
 * stays expired. A local time that is ambiguous or skipped around a change of
 * daylight saving time is read as the earlier of its candidate instants, for
 * the same reason.
 */
export function kvCacheExpiry(text: string, format: Intl.DateTimeFormat): number {
  const m = TIMESTAMP.exec(text);
  if (m === null) throw new Error(`expires_at ${describe(text)} is not a kv-cache timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const first = wall - zoneOffset(format, wall);
  const second = wall - zoneOffset(format, first);
  return Math.min(first, second);
}

/**
 * Converts kv-cache (Python) tables into stores of the current format, in
 * place and in one IMMEDIATE transaction: every row is kept, or nothing
 * changes. Values stay as kv-cache wrote them (Python-dialect JSON, which the
 * `'json'` serializer reads, `NaN` and big integers included); expiry times
 * become epoch milliseconds.
 */
export function adoptKvCacheTables(conn: Connection, options: AdoptKvCacheOptions = {}): AdoptedTable[] {
  // A misspelled "tables" would otherwise mean "every table": a conversion that cannot be undone.
  const given: unknown = options;
  assertOptionsObject(given, ['tables', 'timeZone'], 'adoptKvCache: ');
  const { tables, timeZone = new Intl.DateTimeFormat().resolvedOptions().timeZone } = options;
  if (tables !== undefined && !Array.isArray(tables)) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `adoptKvCache: option "tables" must be an array of names, got ${describe(tables)}`);
  }
  for (const table of tables ?? []) assertStoreName(table);
  // SQLite table names ignore case: "t" and "T" are one table, adopted once.
  if (new Set(tables?.map((t) => t.toLowerCase())).size !== (tables?.length ?? 0)) {
    throw new KVRangeError('ERR_KV_INVALID_OPTION', `adoptKvCache: option "tables" names a table twice: ${tables?.join(', ')}`);
  }
  const format = zoneFormatter(timeZone);
  const registry = new Registry(conn);
  const now = Date.now();

  return conn.immediate(() => {
    const names = tables ?? registry.kvCacheTables();
    for (const name of names) {
      if (!registry.isKvCacheTable(name)) {
        throw new KVError('ERR_KV_FOREIGN_TABLE', `adoptKvCache: "${name}" is not a kv-cache table; nothing was changed`);
      }
      assertStoreName(name);
    }
    migrateDatabase(conn);
    return names.map((name) => adoptTable(conn, registry, name, format, now));
  });
}

interface LegacyRow {
  key: string;
  value: string | Buffer | null;
  expires_at: unknown;
}

function adoptTable(conn: Connection, registry: Registry, name: string, format: Intl.DateTimeFormat, now: number): AdoptedTable {
  const legacy = conn.client.prepare(`SELECT key, value, expires_at FROM "${name}"`).all() as LegacyRow[];
  const rows = legacy.map((row) => {
    const fail = (why: string) =>
      new KVError('ERR_KV_DESERIALIZE', `adoptKvCache: table "${name}", key ${describe(row.key)}: ${why}; nothing was changed`);
    if (typeof row.key !== 'string') throw fail('the key is not text');
    if (row.value === null) throw fail('the value is NULL');
    const value = typeof row.value === 'string' ? row.value : row.value.toString('utf8');
    try {
      parseJsonDialect(value);
    } catch (err) {
      throw fail(`the value is not JSON (${(err as Error).message})`);
    }
    let expiresAt: number | null = null;
    if (row.expires_at !== null) {
      if (typeof row.expires_at !== 'string') throw fail(`expires_at ${describe(row.expires_at)} is not a kv-cache timestamp`);
      try {
        expiresAt = kvCacheExpiry(row.expires_at, format);
      } catch (err) {
        throw fail((err as Error).message);
      }
    }
    return { key: row.key, value, expiresAt, updatedAt: now, size: entrySize(row.key, value) };
  });

  // DROP TABLE takes kv-cache's index with it; the store's table and index are created under the same name.
  conn.client.exec(`DROP TABLE "${name}"`);
  createStore(conn, name, 'json');
  const table = kvTable(name);
  for (let i = 0; i < rows.length; i += 500) conn.db.insert(table).values(rows.slice(i, i + 500)).run();
  return { table: name, rows: rows.length, expired: rows.filter((r) => r.expiresAt !== null && r.expiresAt <= now).length };
}
