import { SQLiteSyncDialect, getTableConfig } from 'drizzle-orm/sqlite-core';
import type { Connection } from './connection';
import { kvTable } from '../schema/store';

const dialect = new SQLiteSyncDialect();

interface ColumnInfo {
  name: string;
  type: string;
  notnull: number;
  dflt_value: unknown;
  pk: number;
}
interface IndexInfo {
  name: string;
  partial: number;
}

/**
 * How the table `name` differs from `kvTable(name)`, one sentence per
 * problem; empty when it matches. For apps whose own migrations create the
 * store tables: the library creates nothing then, and checks instead.
 */
export function schemaProblems(conn: Connection, name: string): string[] {
  const quoted = `"${name}"`;
  const columns = conn.client.pragma(`table_info(${quoted})`) as ColumnInfo[];
  if (columns.length === 0) return [`table "${name}" does not exist`];
  const config = getTableConfig(kvTable(name));
  const problems: string[] = [];

  for (const column of config.columns) {
    const type = column.getSQLType().toUpperCase();
    const expected = `${type}${column.notNull ? ' NOT NULL' : ''}${column.primary ? ' PRIMARY KEY' : ''}`;
    const found = columns.find((c) => c.name === column.name);
    if (found === undefined) {
      problems.push(`column "${column.name}" (${expected}) is missing`);
    } else if (found.type.toUpperCase() !== type || (found.notnull === 1) !== column.notNull || (found.pk > 0) !== column.primary) {
      const actual = `${found.type.toUpperCase()}${found.notnull ? ' NOT NULL' : ''}${found.pk ? ' PRIMARY KEY' : ''}`;
      problems.push(`column "${column.name}" is ${actual}, not ${expected}`);
    }
  }
  for (const extra of columns.filter((c) => !config.columns.some((k) => k.name === c.name))) {
    if (extra.notnull === 1 && extra.dflt_value === null) {
      problems.push(`column "${extra.name}" is NOT NULL without a default, so rows cannot be inserted`);
    }
  }

  const indexes = conn.client.pragma(`index_list(${quoted})`) as IndexInfo[];
  for (const index of config.indexes) {
    const { name: indexName, columns: on, where } = index.config;
    const wanted = on.map((c) => (c as { name: string }).name);
    const described = `"${indexName}" on (${wanted.join(', ')})${where ? ` WHERE ${dialect.sqlToQuery(where).sql}` : ''}`;
    const found = indexes.find((i) => i.name === indexName);
    const foundColumns = found && (conn.client.pragma(`index_info("${indexName}")`) as { name: string }[]).map((c) => c.name);
    if (found === undefined) problems.push(`index ${described} is missing`);
    else if (foundColumns?.join() !== wanted.join() || (found.partial === 1) !== (where !== undefined)) {
      problems.push(`index "${indexName}" is not ${described}`);
    }
  }
  return problems;
}
