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
const format = { database: databaseSteps, store: storeSteps.slice(0, version) };
for (const store of stores) {
  ensureStore(conn, store.name, store.serializer, format);
  // Only the columns every format has: later columns take their defaults, as in a real file of that age.
  const insert = conn.client.prepare(`INSERT INTO "${store.name}" (key, value, expires_at) VALUES (?, ?, ?)`);
  for (const row of store.rows) {
    const value = store.serializer === 'v8' ? serialize(row.value) : JSON.stringify(row.value);
    insert.run(row.key, value, row.expiresAt);
  }
}
conn.client.pragma('wal_checkpoint(TRUNCATE)');
conn.client.pragma('journal_mode = DELETE'); // a single self-contained file to commit
conn.close();
console.log(`wrote ${path}`);
