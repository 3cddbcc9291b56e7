// A child process for tests/reliability/limits.test.ts: a long-running
// process that keeps a store open while the test does something to its files.
//
//   node limits-writer.cjs <entry> <path>
//
// Opens the store, sets 'acked' to 1 and prints "written". Then, for each
// line on stdin:
//   write  sets 'acked2' to 2 and prints "wrote <json>", the JSON being what
//          this process then reads for 'acked', 'acked2' and 'fromB' (null for
//          a miss), or "error <code>"
//   close  closes the store, prints "closed" and exits
'use strict';
const { createInterface } = require('node:readline');

const [entry, path] = process.argv.slice(2);
const { KVStore } = require(entry);

const store = new KVStore(path);
store.set('acked', 1);
process.stdout.write('written\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  try {
    if (line === 'write') {
      store.set('acked2', 2);
      const seen = ['acked', 'acked2', 'fromB'].map((key) => store.get(key) ?? null);
      process.stdout.write(`wrote ${JSON.stringify(seen)}\n`);
    } else if (line === 'close') {
      store.close();
      process.stdout.write('closed\n', () => process.exit(0));
    }
  } catch (err) {
    process.stdout.write(`error ${err.code ?? String(err)}\n`);
  }
});
