// A reader process of the -wal growth test and of scripts/stress.mjs. It
// opens the store `wal` through the built package and, until a line arrives
// or its stdin closes, reads the whole store over and over the ways an app
// does: `items()` (one read transaction over the whole store), `entries()`
// (one short read transaction per batch of 256) and `getMany()` of 500
// random keys (one read transaction). Several such readers started a little
// apart keep read transactions overlapping, so that at almost no moment is
// the -wal unused: the case where SQLite's automatic checkpoints never let
// the -wal start over.
//
//   node wal-reader.cjs <entry> <path> <keys> <seed> [long|short]
//
// short: no `items()`, only the reads whose transactions last a few ms.
//
// Prints "ready" once the store is open, then at the end one JSON line:
// { passes, reads, errors, longest } (longest: the longest `items()` or
// `getMany()` call, ms, an upper bound on the longest read transaction).
'use strict';
const { performance } = require('node:perf_hooks');
const { mulberry32 } = require('./prng.cjs');

const [entry, path, keyCount, seed, reads = 'long'] = process.argv.slice(2);
const { KVStore } = require(entry);
const n = Number(keyCount);
const rnd = mulberry32(Number(seed));
const report = { passes: 0, reads: 0, errors: [], longest: 0 };
const store = new KVStore(path, { table: 'wal', timeout: 10_000 });

let stop = false;
process.stdin.on('data', () => (stop = true));
process.stdin.on('end', () => (stop = true));

function pass() {
  try {
    const r = reads === 'short' ? 0.3 + rnd() * 0.7 : rnd();
    if (r < 0.3) {
      const t = performance.now();
      report.reads += store.items().length;
      report.longest = Math.max(report.longest, performance.now() - t);
    } else if (r < 0.6) {
      for (const it = store.entries(); !it.next().done; ) report.reads++;
    } else {
      const keys = Array.from({ length: 500 }, () => `k:${String(Math.floor(rnd() * n)).padStart(6, '0')}`);
      const t = performance.now();
      report.reads += store.getMany(keys).size;
      report.longest = Math.max(report.longest, performance.now() - t);
    }
    report.passes++;
  } catch (err) {
    if (report.errors.length < 10) report.errors.push({ code: err.code, message: err.message });
  }
  if (!stop) return setImmediate(pass);
  store.close();
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
}

process.stdout.write('ready\n');
setImmediate(pass);
