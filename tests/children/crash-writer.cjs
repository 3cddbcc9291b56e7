// A child process for the crash tests (and scripts/stress.mjs): writes in a
// loop until it is killed with SIGKILL, printing every write *after* the call
// returned, one line per write, with a blocking write per line so that
// nothing acknowledged is left in a buffer when the kill comes.
//
//   node crash-writer.cjs <entry> <path> <durability> <batchEvery> <batchSize>
//
// Lines (n is a number):
//   ready            the store is open; writing starts
//   K n              set('k:<n>', n) returned
//   C n              set('counter', n) returned
//   b n              setMany of batch n is about to start (keys b<n>:<j>, j < batchSize, and 'batch' = n)
//   B n              that setMany returned
//   x n              clear({ prefix: 'b<n>:' }) is about to start
//   X n              it returned
// It continues numbering from what the file holds, so it can be restarted
// after each kill on the same file.
'use strict';
const { say } = require('./say.cjs');

const [entry, path, durability, batchEvery, batchSize] = process.argv.slice(2);
const { KVStore } = require(entry);


const store = new KVStore(path, { table: 'crash', durability, timeout: 10_000 });
let n = (store.get('counter') ?? 0) + 1;
let batch = (store.get('batch') ?? 0) + 1;
const every = Number(batchEvery);
const size = Number(batchSize);
const pad = 'p'.repeat(500);
say('ready');
for (;; n++) {
  store.set(`k:${n}`, n);
  say(`K ${n}`);
  store.set('counter', n);
  say(`C ${n}`);
  if (n % every === 0) {
    say(`b ${batch}`);
    const entries = Array.from({ length: size }, (_, j) => [`b${batch}:${String(j).padStart(5, '0')}`, { batch, j, pad }]);
    entries.push(['batch', batch]);
    store.setMany(entries);
    say(`B ${batch}`);
    if (batch > 3) {
      say(`x ${batch - 3}`);
      store.clear({ prefix: `b${batch - 3}:` });
      say(`X ${batch - 3}`);
    }
    batch++;
  }
}
