// A child process for tests/reliability/limits.test.ts: opens a store when
// told to and reads one key, timing it, so that several processes can open a
// file at the same moment.
//
//   node limits-reader.cjs <entry>
//
// Prints "ready" once loaded. Then, for each line "<timeout> <path>" on
// stdin: opens the store at <path> with { timeout }, reads 'last', closes it,
// and prints one JSON line, {"value": …, "ms": …} or {"code": "ERR_KV_…",
// "ms": …}, where ms is the time from the line to the answer.
'use strict';
const { performance } = require('node:perf_hooks');
const { createInterface } = require('node:readline');

const [entry] = process.argv.slice(2);
const { KVStore } = require(entry);

createInterface({ input: process.stdin }).on('line', (line) => {
  const started = performance.now();
  const space = line.indexOf(' ');
  const timeout = Number(line.slice(0, space));
  const path = line.slice(space + 1);
  let answer;
  try {
    const store = new KVStore(path, { timeout });
    try {
      answer = { value: store.get('last') };
    } finally {
      store.close();
    }
  } catch (err) {
    answer = { code: err.code ?? String(err) };
  }
  answer.ms = Math.round(performance.now() - started);
  process.stdout.write(`${JSON.stringify(answer)}\n`);
});
process.stdout.write('ready\n');
