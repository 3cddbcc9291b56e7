#!/usr/bin/env node
// Writes tests/fixtures/format-v<N>.db: a file whose stores are in per-store format
// version N (an earlier one), holding the rows of tests/fixtures/format-rows.cjs.
// The upgrade tests open copies of these files with the current library.
//
//   npm run build && node scripts/make-format-fixtures.mjs 1
//
// Run it once for each format version that a release leaves behind, and commit the file.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// The internal migrator and connection, bundled by `npm run build` (tests/internals.ts).
const { openConnection, ensureStore, databaseSteps, storeSteps } = require(join(root, 'tests/.built/internals.cjs'));
const { stores } = require(join(root, 'tests/fixtures/format-rows.cjs'));

const version = Number(process.argv[2]);
if (!Number.isInteger(version) || version < 1 || version >= storeSteps.length) {
  console.error(`usage: make-format-fixtures.mjs N, with N an earlier store format (1..${storeSteps.length - 1})`);
  process.exit(2);
}

const path = join(root, 'tests/fixtures', `format-v${version}.db`);
for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });

const conn = openConnection(path, { timeout: 5000, readonly: false, durability: 'normal', mmapSize: 0 });
// The database-level format each store format shipped with.
const DATABASE_VERSION_OF = { 1: 1, 2: 1 };
const format = { database: databaseSteps.slice(0, DATABASE_VERSION_OF[version] ?? databaseSteps.length), store: storeSteps.slice(0, version) };
// When the rows of a format-2 fixture were written (their updated_at).
const WRITTEN_AT = Date.UTC(2026, 0, 15, 9, 0, 0, 0);
for (const store of stores) {
  ensureStore(conn, store.name, store.serializer, format);
  // Only the columns the format has: later columns take their defaults, as in a real file of that age.
  // Format 2 rows carry what format 2 writes: when they were written and their size.
  const insert =
    version === 1
      ? conn.client.prepare(`INSERT INTO "${store.name}" (key, value, expires_at) VALUES (?, ?, ?)`)
      : conn.client.prepare(`INSERT INTO "${store.name}" (key, value, expires_at, updated_at, size) VALUES (?, ?, ?, ?, ?)`);
  store.rows.forEach((row, i) => {
    const value = store.serializer === 'v8' ? serialize(row.value) : JSON.stringify(row.value);
    if (version === 1) insert.run(row.key, value, row.expiresAt);
    else insert.run(row.key, value, row.expiresAt, WRITTEN_AT + i * 1000, Buffer.byteLength(row.key) + Buffer.byteLength(value));
  });
}
conn.client.pragma('wal_checkpoint(TRUNCATE)');
conn.client.pragma('journal_mode = DELETE'); // a single self-contained file to commit
conn.close();
console.log(`wrote ${path}`);
