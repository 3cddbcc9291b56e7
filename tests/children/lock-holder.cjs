// A child process that holds a file's write lock the way another program
// would: a raw better-sqlite3 connection in `BEGIN IMMEDIATE` with an
// uncommitted write.
//
//   node lock-holder.cjs <path> <table> <holdMs> <commit|rollback|read>
//
// Prints "locked" once it holds the lock, then releases it after <holdMs>
// or at the first line on stdin, whichever comes first (committing or rolling
// back its write, which sets key 'held' to the JSON text "child"), and
// prints "released". With 'read' it holds a read transaction instead (BEGIN
// and a SELECT, no write), which in WAL mode must not block writers.
'use strict';
const Database = require('better-sqlite3');

const [path, table, holdMs, end] = process.argv.slice(2);
const db = new Database(path, { timeout: 10_000 });
if (end === 'read') {
  db.exec('BEGIN');
  db.prepare(`SELECT count(*) FROM "${table}"`).get();
} else {
  db.exec('BEGIN IMMEDIATE');
  db.prepare(`INSERT INTO "${table}" (key, value, expires_at) VALUES ('held', '"child"', NULL)
              ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run();
}
let released = false;
function release() {
  if (released) return;
  released = true;
  db.exec(end === 'rollback' ? 'ROLLBACK' : 'COMMIT');
  db.close();
  process.stdout.write('released\n', () => process.exit(0));
}
const timer = setTimeout(release, Number(holdMs));
process.stdin.once('data', () => {
  clearTimeout(timer);
  release();
});
process.stdout.write('locked\n');
