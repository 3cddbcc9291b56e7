// What the -wal maintenance costs a write, for scripts/stress.mjs: `set`s of
// new keys (the bench's "set, no TTL" row: keys `user:<i>`, a small JSON
// value) on two fresh files in this one process, one through the package as
// built, one through a build of it without the -wal maintenance, in
// alternating blocks of 1000, so that a slow moment of a shared machine hits
// both alike. Then times the check the maintenance makes after a write when
// there is nothing to do: one `stat` of the -wal (every 64th set, and after
// each setMany). Prints { with, without, stat }: µs per set, µs per stat.
//
//   node wal-cost.cjs <entry> <entry without maintenance> <folder> <sets per store>
'use strict';
const { performance } = require('node:perf_hooks');
const { statSync } = require('node:fs');
const { join } = require('node:path');

const [entry, entryWithout, folder, count] = process.argv.slice(2);
const n = Number(count);
const stores = {
  with: new (require(entry).KVStore)(join(folder, 'with.db')),
  without: new (require(entryWithout).KVStore)(join(folder, 'without.db')),
};
const value = { name: 'Alice', age: 30, tags: ['a', 'b'] };
const ms = { with: 0, without: 0 };
const block = 1000;
for (let lo = 0; lo < n; lo += block) {
  // Which goes first alternates too.
  const order = (lo / block) % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
  for (const name of order) {
    const store = stores[name];
    const t0 = performance.now();
    for (let i = lo; i < lo + block; i++) store.set(`user:${i}`, value);
    ms[name] += performance.now() - t0;
  }
}
const wal = join(folder, 'with.db-wal');
const stats = 100_000;
const t0 = performance.now();
for (let i = 0; i < stats; i++) statSync(wal, { throwIfNoEntry: false });
const stat = ((performance.now() - t0) * 1000) / stats;
stores.with.close();
stores.without.close();
process.stdout.write(`${JSON.stringify({ with: (ms.with * 1000) / n, without: (ms.without * 1000) / n, stat })}\n`);
