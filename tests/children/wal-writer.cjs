// The writer process of the -wal growth test and of scripts/stress.mjs. It
// opens the store `wal` through the built package and overwrites random
// existing keys (values of about 1 KiB, so the store keeps its size while
// every write goes to the -wal) until a line arrives or its stdin closes:
// `set` mostly, and every <batchEvery>th write a `setMany` of <batchSize>.
//
//   node wal-writer.cjs <entry> <path> <keys> <seed> <batchEvery> <batchSize>
//
// Prints "ready" once the store is open, starts writing at the first line on
// stdin ("go"), and at the next line or the end of stdin stops and prints one
// JSON line: { sets, batches, errors, slowest, emptied, emptiedMs }: slowest
// is the longest single write (ms); emptied counts the writes after which
// the -wal was smaller than before (the ones that ran a checkpoint that
// emptied it), emptiedMs their total time.
'use strict';
const { performance } = require('node:perf_hooks');
const { statSync } = require('node:fs');
const { mulberry32 } = require('./prng.cjs');

const [entry, path, keyCount, seed, batchEvery, batchSize] = process.argv.slice(2);
const { KVStore } = require(entry);
const n = Number(keyCount);
const every = Number(batchEvery);
const size = Number(batchSize);
const rnd = mulberry32(Number(seed));
const report = { sets: 0, batches: 0, errors: [], slowest: 0, emptied: 0, emptiedMs: 0 };

const store = new KVStore(path, { table: 'wal', timeout: 10_000 });
const wal = `${path}-wal`;
const walSize = () => statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
const key = () => `k:${String(Math.floor(rnd() * n)).padStart(6, '0')}`;
const value = (i) => ({ i, pad: 'x'.repeat(900 + Math.floor(rnd() * 200)) });

// The first line is "go"; the next one, or the end of stdin, is "stop".
let lines = 0;
let stop = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  const before = lines;
  lines += chunk.split('\n').length - 1;
  if (before === 0 && lines > 0) setImmediate(burst);
  if (lines > 1) stop = true;
});
process.stdin.on('end', () => {
  if (lines === 0) setImmediate(burst);
  stop = true;
});

let i = 0;
function burst() {
  // Writes for 10 ms at a time, then yields so that "stop" is heard.
  const until = performance.now() + 10;
  while (performance.now() < until) {
    const before = walSize();
    const t = performance.now();
    try {
      if (++i % every === 0) {
        store.setMany(Array.from({ length: size }, () => [key(), value(i)]));
        report.batches++;
      } else {
        store.set(key(), value(i));
        report.sets++;
      }
    } catch (err) {
      if (report.errors.length < 10) report.errors.push({ code: err.code, message: err.message });
    }
    const took = performance.now() - t;
    report.slowest = Math.max(report.slowest, took);
    if (walSize() < before) {
      report.emptied++;
      report.emptiedMs += took;
    }
  }
  if (!stop) return setImmediate(burst);
  store.close();
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
}

process.stdout.write('ready\n');
