// A child process for tests/reliability/limits.test.ts: grows a store's -wal
// to a given size, then waits to be killed with SIGKILL, leaving the -wal to
// be recovered by the next process that opens the file.
//
//   node limits-big-wal.cjs <entry> <path> <mib>
//
// A raw connection of the same process holds a read transaction from the
// start, as a reader that pins the -wal does, so no checkpoint copies the
// -wal back and it only grows. The store's timeout is 0, so the checkpoints it
// tries give up at once instead of waiting for that reader. Prints
// "ready <n>" once the -wal has reached <mib> MiB; 'last' then holds n, the
// number of entries written besides it.
'use strict';
const { statSync } = require('node:fs');
const Database = require('better-sqlite3');

const [entry, path, mib] = process.argv.slice(2);
const { KVStore } = require(entry);

const store = new KVStore(path, { timeout: 0 });
store.set('last', 0);
const reader = new Database(path);
reader.exec('BEGIN');
reader.prepare('SELECT count(*) FROM key_value_store').get();

const pad = 'x'.repeat(4000);
const target = Number(mib) * 1024 * 1024;
let n = 0;
while ((statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0) < target) {
  store.setMany(Array.from({ length: 256 }, () => [`k:${String(n++).padStart(7, '0')}`, pad]));
}
store.set('last', n);
process.stdout.write(`ready ${n}\n`);
setInterval(() => {}, 60_000); // until killed
