/**
 * PostgreSQL: the Drizzle schema (src/pg/schema.ts), drizzle-kit's generated
 * DDL (drizzle/pg/), the migration lists the runtime embeds (migrations/pg/)
 * and what those statements create on a real server must all agree. Each test
 * fails when one of them moves without the others.
 *
 * Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
 * in a schema of its own that it drops afterwards.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { PgDialect, type PgTable, getTableConfig } from 'drizzle-orm/pg-core';
import { Client } from 'pg';
import { databaseSteps } from '../../migrations/pg/database';
import { storeSteps } from '../../migrations/pg/store';
import type { MigrationStep } from '../../migrations/step';
import { PgPlace } from '../../src/pg/registry';
import { pgBookkeeping, pgKvTable } from '../../src/pg/schema';
import { STORE_TEMPLATE_NAME } from '../../src/schema/store';
import { tempDir } from '../helpers';

const root = join(__dirname, '../..');
const url = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const dialect = new PgDialect();
/** A schema of this run's own: tests share the server. */
const ns = `kvt_${process.pid}_${Date.now().toString(36)}`;

const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * What the runtime does to a store-level statement: the quoted template table
 * name becomes the (schema-qualified) table, and names derived from it (the
 * expiry index, `"__kv_store___expires_at_idx"`) take the store's name; an
 * index lives in its table's schema, so derived names stay unqualified.
 */
function forStore(statement: string, schema: string, name: string): string {
  return new PgPlace(schema).storeStatement(statement, name);
}

/** What the runtime does to a database-level statement: the bookkeeping tables and functions, qualified. */
function forDatabase(statement: string, schema: string): string {
  return new PgPlace(schema).databaseStatement(statement);
}

interface ColumnShape {
  name: string;
  type: string;
  collation: string | null;
  notNull: boolean;
  default: string | null;
}
interface IndexShape {
  name: string;
  columns: string[];
  unique: boolean;
  where: string | null;
}
interface TableShape {
  columns: ColumnShape[];
  primaryKey: string[];
  indexes: IndexShape[];
}

/** `"expires_at" IS NOT NULL` and PostgreSQL's `(expires_at IS NOT NULL)` are one predicate. */
const normalizeWhere = (where: string) => where.replaceAll('"', '').replace(/^\((.*)\)$/s, '$1').trim();

function fromSchema(table: PgTable): TableShape {
  const config = getTableConfig(table);
  return {
    columns: config.columns.map((c) => {
      const [, type, collation] = /^(\w+(?: \w+)*?)(?: COLLATE "([^"]+)")?$/.exec(c.getSQLType()) ?? [];
      return {
        name: c.name,
        // information_schema calls every array type ARRAY.
        type: c.getSQLType().endsWith('[]') ? 'ARRAY' : (type ?? `unparsed: ${c.getSQLType()}`),
        collation: collation ?? null,
        notNull: c.notNull,
        default: c.default === undefined ? null : String(c.default),
      };
    }),
    primaryKey: [...config.columns.filter((c) => c.primary).map((c) => c.name), ...config.primaryKeys.flatMap((k) => k.columns.map((c) => c.name))],
    indexes: config.indexes
      .map((i) => ({
        name: i.config.name ?? 'unnamed',
        columns: i.config.columns.map((c) => (c as { name: string }).name),
        unique: i.config.unique,
        where: i.config.where ? normalizeWhere(dialect.sqlToQuery(i.config.where).sql) : null,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

async function fromServer(client: Client, schema: string, table: string): Promise<TableShape> {
  const columns = await client.query<{
    column_name: string;
    data_type: string;
    collation_name: string | null;
    is_nullable: 'YES' | 'NO';
    column_default: string | null;
  }>(
    `SELECT column_name, data_type, collation_name, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, table],
  );
  const indexes = await client.query<{
    name: string;
    primary: boolean;
    unique: boolean;
    columns: string[];
    where: string | null;
  }>(
    `SELECT i.relname AS name, ix.indisprimary AS primary, ix.indisunique AS unique,
            ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
            pg_get_expr(ix.indpred, ix.indrelid) AS where
       FROM pg_index ix
       JOIN pg_class i ON i.oid = ix.indexrelid
       JOIN pg_class t ON t.oid = ix.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname = $2`,
    [schema, table],
  );
  return {
    columns: columns.rows.map((c) => ({
      name: c.column_name,
      type: c.data_type,
      collation: c.collation_name,
      notNull: c.is_nullable === 'NO',
      default: c.column_default,
    })),
    primaryKey: indexes.rows.find((i) => i.primary)?.columns ?? [],
    indexes: indexes.rows
      .filter((i) => !i.primary)
      .map((i) => ({ name: i.name, columns: i.columns, unique: i.unique, where: i.where === null ? null : normalizeWhere(i.where) }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

async function apply(client: Client, steps: readonly MigrationStep[], rewrite: (statement: string) => string): Promise<void> {
  for (const step of steps) {
    await client.query('BEGIN');
    try {
      for (const statement of step.statements) await client.query(rewrite(statement));
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  }
}

let client: Client;

beforeAll(async () => {
  client = new Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`tests/pg need a PostgreSQL server at ${url} (set DATABASE_URL): ${String(err)}`, { cause: err });
  }
  await client.query(`CREATE SCHEMA ${quote(ns)}`);
  // The store steps keep the schema's counters: its bookkeeping comes first, as at run time.
  await apply(client, databaseSteps, (s) => forDatabase(s, ns));
});

afterAll(async () => {
  if (!client) return;
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quote(ns)} CASCADE`);
  } finally {
    await client.end();
  }
});

describe('PostgreSQL schema drift', () => {
  it('store statements reference the template only as "__kv_store__" or a quoted name derived from it', () => {
    for (const statement of storeSteps.flatMap((s) => s.statements)) {
      expect(forStore(statement, ns, 'x')).not.toContain(STORE_TEMPLATE_NAME);
      expect(statement).not.toContain(`"public"."${STORE_TEMPLATE_NAME}"`);
    }
  });

  it('the store steps create a table matching pgKvTable() exactly (columns, C collation, partial index)', async () => {
    await apply(client, storeSteps, (s) => forStore(s, ns, 'Sessions_2'));
    const server = await fromServer(client, ns, 'Sessions_2');
    expect(server).toEqual(fromSchema(pgKvTable('Sessions_2', { schema: ns })));
    expect(server.columns.find((c) => c.name === 'key')?.collation).toBe('C');
    expect(server.indexes.map((i) => i.name)).toEqual(['Sessions_2_expires_at_idx', 'Sessions_2_tags_idx']);

    // The primary-key index is built in "C" too: what makes key ranges and prefixes index range scans.
    const collations = await client.query<{ collname: string }>(
      `SELECT c.collname FROM pg_index ix, unnest(ix.indcollation) AS k(oid) JOIN pg_collation c ON c.oid = k.oid
        WHERE ix.indexrelid = to_regclass($1)`,
      [`${quote(ns)}.${quote('Sessions_2_pkey')}`],
    );
    expect(collations.rows.map((r) => r.collname)).toEqual(['C']);
  });

  it('step 2 applies to a format-1 table that holds rows, which then read their defaults', async () => {
    const [step1, ...rest] = storeSteps;
    await apply(client, [step1!], (s) => forStore(s, ns, 'v1'));
    await client.query(`INSERT INTO ${quote(ns)}.v1 (key, value, expires_at) VALUES ('k', '\\x7b7d', NULL)`);
    await apply(client, rest, (s) => forStore(s, ns, 'v1'));
    expect(await fromServer(client, ns, 'v1')).toEqual(fromSchema(pgKvTable('v1', { schema: ns })));
    const rows = await client.query(`SELECT key, updated_at::text, size::text FROM ${quote(ns)}.v1`);
    expect(rows.rows).toEqual([{ key: 'k', updated_at: '0', size: '0' }]);
  });

  it('drizzle reads and writes the migrated table through pgKvTable (bytes and numbers, not strings)', async () => {
    await apply(client, storeSteps, (s) => forStore(s, ns, 'typed'));
    const table = pgKvTable('typed', { schema: ns });
    const db = drizzle(client);
    const value = Buffer.from('{"b":1,"a":"\u0000é"}', 'utf8');
    await db.insert(table).values({ key: 'é', value, expiresAt: 2 ** 53 - 1, updatedAt: 1_900_000_000_000, size: 23 });
    const [row] = await db.select().from(table).where(eq(table.key, 'é'));
    expect(row).toEqual({ key: 'é', value, expiresAt: 2 ** 53 - 1, updatedAt: 1_900_000_000_000, size: 23, accessedAt: 0, hits: 0, tags: null });
    expect(Buffer.isBuffer(row?.value)).toBe(true);
  });

  it('the database steps create bookkeeping tables matching pgBookkeeping()', async () => {
    const { kvMeta, kvStores, kvCounters } = pgBookkeeping(ns);
    expect(await fromServer(client, ns, 'drizzle_kv_meta')).toEqual(fromSchema(kvMeta));
    expect(await fromServer(client, ns, 'drizzle_kv_stores')).toEqual(fromSchema(kvStores));
    expect(await fromServer(client, ns, 'drizzle_kv_counters')).toEqual(fromSchema(kvCounters));
  });

  it.each(['store', 'database'])('drizzle/pg/%s/ holds every change of the Drizzle schema (drizzle-kit finds nothing to generate)', (level) => {
    const out = join(tempDir(), level);
    cpSync(join(root, 'drizzle/pg', level), out, { recursive: true });
    const before = readdirSync(out).sort();
    const output = execFileSync(
      process.execPath,
      [
        join(root, 'node_modules/drizzle-kit/bin.cjs'),
        'generate',
        '--dialect',
        'postgresql',
        '--schema',
        `drizzle/pg/${level}.schema.ts`,
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
