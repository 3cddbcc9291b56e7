/**
 * Checks a store table the app's own migrations created (`tables:
 * 'external'`) against `pgKvTable(name)`, from PostgreSQL's catalogue, and
 * names every difference.
 */
import { getTableConfig } from 'drizzle-orm/pg-core';
import type { PgPlace } from './registry';
import { pgKvTable } from './schema';
import type { PgSession } from './session';

/** The catalogue's word for each SQL type the declaration uses. */
const CATALOGUE_TYPES: Readonly<Record<string, string>> = {
  'text COLLATE "C"': 'text',
  text: 'text',
  bytea: 'bytea',
  bigint: 'bigint',
  integer: 'integer',
};

/** What differs between the table `name` in the database and `pgKvTable(name)`; empty when nothing does. */
export async function externalTableProblems(session: PgSession, place: PgPlace, name: string): Promise<string[]> {
  const { rows } = await session.exec(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(co.collname, ''),
            coalesce((SELECT true FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND i.indkey[0] = a.attnum AND i.indnatts = 1), false)
       FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [place.qualified(name)],
  );
  if (rows.length === 0) return [`table ${place.qualified(name)} does not exist`];
  const found = new Map(rows.map((row) => [row[0] as string, { type: row[1] as string, notNull: row[2] === true, collation: row[3] as string, pk: row[4] === true }]));
  const problems: string[] = [];
  const config = getTableConfig(pgKvTable(name));
  for (const column of config.columns) {
    const actual = found.get(column.name);
    if (actual === undefined) {
      problems.push(`column "${column.name}" is missing`);
      continue;
    }
    const sqlType = column.getSQLType();
    const expected = CATALOGUE_TYPES[sqlType] ?? sqlType;
    if (actual.type !== expected) problems.push(`column "${column.name}" is ${actual.type}, not ${expected}`);
    if (actual.notNull !== column.notNull) problems.push(`column "${column.name}" is ${actual.notNull ? 'NOT NULL' : 'nullable'}, not ${column.notNull ? 'NOT NULL' : 'nullable'}`);
    if (column.primary && !actual.pk) problems.push(`column "${column.name}" is not the primary key`);
    // Only the key's order matters: listing and paging rely on byte order.
    if (sqlType.includes('COLLATE "C"') && actual.collation !== 'C') {
      problems.push(`column "${column.name}" has collation "${actual.collation || 'default'}", not "C" (keys would list in another order)`);
    }
  }
  return problems;
}
