// A child process for the SIGBUS test: opens a store of the built package and
// reads all of it, pass after pass, while the test truncates the file under
// it. How the process ends is the point: a typed error (or a clean finish)
// is what the library promises; death by a signal is what memory-mapped I/O
// does when mapped pages vanish, and no `try` below can catch that.
//
//   node sigbus-reader.cjs <entry> <path> <entries|values> <mmapSize> <deadlineMs>
//
// <mmapSize> 'default' opens with the default options (no options object at
// all, as most users do); a number opens with { mmapSize: <number> }.
//
// Lines, each written with a blocking write so that a signal cannot swallow
// what was printed before it:
//   pass n          the n-th full read of the store finished
//   {json}          the last line: { fate: 'error', code, message, passes }
//                   or { fate: 'finished', passes } when the deadline came
//                   with no error (nothing went wrong, or only cached pages
//                   were read)
'use strict';
const { say } = require('./say.cjs');

const [entry, path, mode, mmap, deadlineMs] = process.argv.slice(2);
const { KVStore } = require(entry);


const deadline = Date.now() + Number(deadlineMs);
let passes = 0;
let store;
try {
  store = mmap === 'default' ? new KVStore(path) : new KVStore(path, { mmapSize: Number(mmap) });
  while (Date.now() < deadline) {
    let n = 0;
    if (mode === 'values') {
      // One query over the whole table: the read spends its time inside SQLite.
      n = store.values().length;
    } else {
      // One query per 256 rows: the iterator the library offers for large stores.
      for (const [, value] of store.entries()) if (value !== undefined) n++;
    }
    if (n === 0) throw new Error('the store read as empty');
    say(`pass ${++passes}`);
  }
  say(JSON.stringify({ fate: 'finished', passes }));
} catch (err) {
  say(JSON.stringify({ fate: 'error', code: err.code ?? null, name: err.name, message: String(err.message).slice(0, 300), passes }));
} finally {
  try {
    store?.close();
  } catch {
    // Closing a connection to a damaged file may fail too; the fate is already reported.
  }
}
