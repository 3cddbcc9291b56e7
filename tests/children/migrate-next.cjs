// A child process that upgrades a store to a "next" on-disk format, as a
// future release of drizzle-kv would, using the library's internal migrator
// and connection (tests/.built/internals.cjs, built from tests/internals.ts).
//
//   node migrate-next.cjs <entry> <internals.cjs> <path> <store> <step> <start>
//
// <entry>  the built package entry (for the 'open' step)
//
// <step>  'priority'      one extra store step: ALTER TABLE … ADD `priority` (fails if applied twice)
//         'priority+db'   the same, plus one extra database step (CREATE TABLE drizzle_kv_next,
//                     which also fails if applied twice)
//         'open'      no extra step: open the store with the built package's KVStore, as
//                     any process of an app does after an upgrade of drizzle-kv
//         'big:<n>'   one extra database step (a table drizzle_kv_next) and one extra
//                     store step that creates <store>_big and fills it with n rows
//                     through a recursive CTE, then indexes it: a long migration
// <start> 'go'        print "ready", wait for a line on stdin, then migrate (for races)
//         'now'       migrate at once, printing "migrating" first (for kills)
// Prints "ok" (or "migrated") when done, or "ERR <code> <message>".
'use strict';

const [entry, internals, path, store, step, start] = process.argv.slice(2);
const { ensureStore, CURRENT_FORMAT, openConnection } = require(internals);
const { KVStore } = require(entry);

const nextDatabaseStep = (database) => ({
  version: database.length + 1,
  tag: '9999_next',
  statements: ['CREATE TABLE `drizzle_kv_next` (`x` integer);'],
});

function nextFormat() {
  const { database, store: storeSteps } = CURRENT_FORMAT;
  if (step === 'priority' || step === 'priority+db') {
    return {
      database: step === 'priority' ? database : [...database, nextDatabaseStep(database)],
      store: [
        ...storeSteps,
        { version: storeSteps.length + 1, tag: '9999_priority', statements: ['ALTER TABLE `__kv_store__` ADD `priority` integer DEFAULT 0 NOT NULL;'] },
      ],
    };
  }
  const rows = Number(step.slice('big:'.length));
  return {
    database: [...database, nextDatabaseStep(database)],
    store: [
      ...storeSteps,
      {
        version: storeSteps.length + 1,
        tag: '9999_big',
        statements: [
          'CREATE TABLE `__kv_store___big` (`n` integer PRIMARY KEY NOT NULL, `pad` text NOT NULL);',
          `INSERT INTO \`__kv_store___big\` (n, pad) WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ${rows}) SELECT n, hex(randomblob(16)) FROM c;`,
          'CREATE INDEX `__kv_store___big_pad_idx` ON `__kv_store___big` (`pad`);',
        ],
      },
    ],
  };
}

function migrate() {
  let conn;
  try {
    if (step === 'open') {
      const kv = new KVStore(path, { table: store, timeout: 20_000 });
      kv.incr('opens');
      kv.close();
      return 'ok';
    }
    conn = openConnection(path, { timeout: 20_000, readonly: false, durability: 'normal', mmapSize: 0 });
    ensureStore(conn, store, 'json', nextFormat());
    return 'ok';
  } catch (err) {
    return `ERR ${err.code} ${err.message}`;
  } finally {
    conn?.close();
  }
}

if (start === 'go') {
  process.stdin.once('data', () => {
    const line = migrate();
    process.stdout.write(`${line}\n`, () => process.exit(0));
  });
  process.stdout.write('ready\n');
} else {
  process.stdout.write('migrating\n', () => {
    const line = migrate();
    process.stdout.write(`${line === 'ok' ? 'migrated' : line}\n`, () => process.exit(0));
  });
}
