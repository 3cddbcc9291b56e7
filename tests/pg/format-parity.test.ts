/**
 * Format versions mean the same on every engine: "store format 2" is the same
 * logical table on SQLite and on PostgreSQL. These tests fail when one chain
 * gains a step, or one schema a column, without the other.
 */
import { PgDialect, type PgTable, getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core';
import { SQLiteSyncDialect, type SQLiteTable, getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core';
import { databaseSteps as sqliteDatabaseSteps } from '../../migrations/database';
import { databaseSteps as pgDatabaseSteps } from '../../migrations/pg/database';
import { storeSteps as pgStoreSteps } from '../../migrations/pg/store';
import type { MigrationStep } from '../../migrations/step';
import { storeSteps as sqliteStoreSteps } from '../../migrations/store';
import {
  PG_DERIVED_SUFFIXES,
  PG_MAX_STORE_NAME,
  pgBookkeeping,
  pgExpiryIndexName,
  pgKvCounters,
  pgKvMeta,
  pgKvStores,
  pgKvTable,
} from '../../src/pg/schema';
import { kvCounters, kvMeta, kvStores } from '../../src/schema/database';
import { expiryIndexName, kvTable } from '../../src/schema/store';

interface Logical {
  name: string;
  columns: { name: string; notNull: boolean; primaryKey: boolean; default: unknown }[];
  indexes: { name: string; columns: string[]; unique: boolean; where: string | null }[];
}

const sqliteDialect = new SQLiteSyncDialect();
const pgDialect = new PgDialect();

function logical(config: ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>, whereSql: (where: never) => string): Logical {
  return {
    name: config.name,
    columns: config.columns.map((c) => ({ name: c.name, notNull: c.notNull, primaryKey: c.primary, default: c.default })),
    indexes: config.indexes.map((i) => ({
      name: i.config.name ?? 'unnamed',
      columns: i.config.columns.map((c) => (c as { name: string }).name),
      unique: i.config.unique,
      where: i.config.where ? whereSql(i.config.where as never) : null,
    })),
  };
}
const ofSqlite = (t: SQLiteTable) => logical(sqliteTableConfig(t), (w) => sqliteDialect.sqlToQuery(w).sql);
const ofPg = (t: PgTable) => logical(pgTableConfig(t), (w) => pgDialect.sqlToQuery(w).sql);

const shape = (steps: readonly MigrationStep[]) => steps.map(({ version, tag }) => ({ version, tag }));

describe('format parity: SQLite and PostgreSQL', () => {
  it.each([
    ['store', sqliteStoreSteps, pgStoreSteps],
    ['database', sqliteDatabaseSteps, pgDatabaseSteps],
  ] as const)('the %s level has the same steps (count, versions, tags) on both engines', (_level, sqlite, pg) => {
    expect(pg.length).toBe(sqlite.length);
    expect(shape(pg)).toEqual(shape(sqlite));
    expect(shape(pg).map((s) => s.version)).toEqual(pg.map((_, i) => i + 1));
  });

  it('a store table has the same columns (order, nullability, key, defaults) and expiry index on both engines', () => {
    // Tags are found through a GIN index on PostgreSQL, through the drizzle_kv_tags table on SQLite (which has no GIN).
    const pg = ofPg(pgKvTable('Sessions_2'));
    expect(pg.indexes.filter((i) => i.name === 'Sessions_2_tags_idx')).toHaveLength(1);
    expect({ ...pg, indexes: pg.indexes.filter((i) => i.name !== 'Sessions_2_tags_idx') }).toEqual(ofSqlite(kvTable('Sessions_2')));
    expect(ofPg(pgKvTable('Sessions_2', { schema: 'cache' }))).toEqual(ofPg(pgKvTable('Sessions_2')));
    expect(pgExpiryIndexName('Sessions_2')).toBe(expiryIndexName('Sessions_2'));
  });

  it('the bookkeeping tables have the same columns on both engines', () => {
    expect(ofPg(pgKvMeta)).toEqual(ofSqlite(kvMeta));
    expect(ofPg(pgKvStores)).toEqual(ofSqlite(kvStores));
    expect(ofPg(pgKvCounters)).toEqual(ofSqlite(kvCounters));
    const inSchema = pgBookkeeping('cache');
    expect(ofPg(inSchema.kvMeta)).toEqual(ofPg(pgKvMeta));
    expect(ofPg(inSchema.kvStores)).toEqual(ofPg(pgKvStores));
    expect(pgTableConfig(inSchema.kvStores).schema).toBe('cache');
    expect(pgTableConfig(pgKvStores).schema).toBeUndefined();
  });

  it('the PostgreSQL store-name limit leaves room for the longest derived suffix within 63 bytes', () => {
    expect(PG_DERIVED_SUFFIXES).toContain(pgExpiryIndexName(''));
    expect(PG_MAX_STORE_NAME).toBe(48);
    for (const suffix of PG_DERIVED_SUFFIXES) expect(PG_MAX_STORE_NAME + suffix.length).toBeLessThanOrEqual(63);
  });
});
