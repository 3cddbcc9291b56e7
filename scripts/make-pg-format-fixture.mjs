#!/usr/bin/env node
// Writes tests/fixtures/pg-format-v<N>.sql: a PostgreSQL schema named `kv_fixture` whose
// stores are in the per-store format this release writes, holding the rows of
// tests/fixtures/format-rows.cjs, as plain pg_dump SQL. The PostgreSQL upgrade tests
// restore it into a schema of their own and open it with a later release.
//
//   npm run build && node scripts/make-pg-format-fixture.mjs postgres://root@127.0.0.1:5432/test
//
// Run it with the release that leaves a format behind, and commit the file.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Pool } = require('pg');
const { openDatabase } = require(join(root, 'dist/pg.cjs'));
const { stores } = require(join(root, 'tests/fixtures/format-rows.cjs'));

const url = process.argv[2] ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = 'kv_fixture';
const WRITTEN_AT = Date.UTC(2026, 0, 15, 9, 0, 0, 0);

const pool = new Pool({ connectionString: url });
await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
const db = await openDatabase(pool, { pgSchema: SCHEMA });
let version;
for (const store of stores) {
  await (await db.store(store.name, { serializer: store.serializer })).close();
  for (const [i, row] of store.rows.entries()) {
    const value = Buffer.from(store.serializer === 'v8' ? serialize(row.value) : JSON.stringify(row.value));
    await pool.query(
      `INSERT INTO ${SCHEMA}."${store.name}" (key, value, expires_at, updated_at, size) VALUES ($1, $2, $3, $4, $5)`,
      [row.key, value, row.expiresAt, WRITTEN_AT + i * 1000, Buffer.byteLength(row.key) + value.byteLength],
    );
  }
}
version = (await db.stores())[0].version;
await db.close();
const dump = execFileSync('pg_dump', ['--schema', SCHEMA, '--no-owner', '--no-privileges', '--inserts', url], { encoding: 'utf8' });
await pool.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
await pool.end();
const path = join(root, 'tests/fixtures', `pg-format-v${version}.sql`);
writeFileSync(path, dump);
console.log(`wrote ${path}`);
