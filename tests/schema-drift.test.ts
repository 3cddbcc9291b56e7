/**
 * The Drizzle schema (src/schema/), drizzle-kit's generated DDL (drizzle/),
 * the migration lists the runtime embeds (migrations/) and what the runtime
 * actually creates in a file must all agree. Each test here fails when one
 * of them moves without the others.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SQLiteSyncDialect, type SQLiteTable, getTableConfig } from 'drizzle-orm/sqlite-core';
import { KVStore } from '../src';
import { kvMeta, kvStores, kvTable } from '../src/schema';
import { tempDb, tempDir, withRaw } from './helpers';

const root = join(__dirname, '..');
const dialect = new SQLiteSyncDialect();

interface ColumnShape {
  name: string;
  type: string;
  notNull: boolean;
  primaryKey: boolean;
}
interface IndexShape {
  name: string;
  columns: string[];
  unique: boolean;
  where: string | null;
}

function fromSchema(table: SQLiteTable): { columns: ColumnShape[]; indexes: IndexShape[] } {
  const config = getTableConfig(table);
  return {
    columns: config.columns.map((c) => ({
      name: c.name,
      type: c.getSQLType().toUpperCase(),
      notNull: c.notNull,
      primaryKey: c.primary,
    })),
    indexes: config.indexes
      .map((i) => ({
        name: i.config.name,
        columns: i.config.columns.map((c) => (c as { name: string }).name),
        unique: i.config.unique,
        where: i.config.where ? dialect.sqlToQuery(i.config.where).sql : null,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function fromFile(path: string, table: string): { columns: ColumnShape[]; indexes: IndexShape[] } {
  return withRaw(path, (db) => {
    const columns = (db.pragma(`table_info(${table})`) as { name: string; type: string; notnull: number; pk: number }[]).map((c) => ({
      name: c.name,
      type: c.type.toUpperCase(),
      notNull: c.notnull === 1,
      primaryKey: c.pk > 0,
    }));
    const indexes = (db.pragma(`index_list(${table})`) as { name: string; unique: number; origin: string; partial: number }[])
      .filter((i) => i.origin === 'c') // created by CREATE INDEX, not the primary key's own
      .map((i) => {
        const sql = db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(i.name) as string;
        return {
          name: i.name,
          columns: (db.pragma(`index_info(${i.name})`) as { name: string }[]).map((c) => c.name),
          unique: i.unique === 1,
          where: i.partial === 1 ? (/ WHERE (.*?);?$/s.exec(sql)?.[1] ?? 'unparsed') : null,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    return { columns, indexes };
  });
}

describe('schema drift', () => {
  it('a store table created at run time matches kvTable() exactly', () => {
    const path = tempDb();
    new KVStore(path, 'Sessions_2').close();
    const file = fromFile(path, 'Sessions_2');
    expect(file).toEqual(fromSchema(kvTable('Sessions_2')));
    expect(file.indexes.map((i) => i.name)).toEqual(['Sessions_2_expires_at_idx']);
  });

  it('the bookkeeping tables created at run time match kvMeta and kvStores', () => {
    const path = tempDb();
    new KVStore(path).close();
    expect(fromFile(path, 'drizzle_kv_meta')).toEqual(fromSchema(kvMeta));
    expect(fromFile(path, 'drizzle_kv_stores')).toEqual(fromSchema(kvStores));
  });

  it('migrations/ (every dialect and level) is generated from drizzle/ and up to date', () => {
    expect(() =>
      execFileSync(process.execPath, [join(root, 'scripts/generate-migrations.mjs'), '--check'], { cwd: root, stdio: 'pipe' }),
    ).not.toThrow();
  });

  it.each(['store', 'database'])('drizzle/%s/ holds every change of the Drizzle schema (drizzle-kit finds nothing to generate)', (level) => {
    const out = join(tempDir(), level);
    cpSync(join(root, 'drizzle', level), out, { recursive: true });
    const before = readdirSync(out).sort();
    const output = execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/drizzle-kit/bin.cjs'),
        'generate',
        '--dialect',
        'sqlite',
        '--schema',
        `drizzle/${level}.schema.ts`,
        // drizzle-kit resolves --out against the working directory
        '--out',
        relative(root, out),
      ],
      { cwd: root, encoding: 'utf8', stdio: 'pipe' },
    );
    expect(output).toContain('No schema changes');
    expect(readdirSync(out).sort()).toEqual(before);
  });
});
