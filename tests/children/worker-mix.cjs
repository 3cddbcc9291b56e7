// A child process (or a worker thread) of the multi-process reliability test
// and of scripts/stress.mjs. It opens the store `mix` in one file through the
// built package, waits for "go", then runs a seeded random mix of operations
// and reports what it saw and what it had acknowledged:
//
//   - keys under `c<id>:` are written by this child only, so every read of
//     them must return exactly what this child last wrote (read-your-writes);
//     the final map of these keys is its acknowledged writes;
//   - `counter` is incremented by everyone: the report says how many times;
//   - `race:<n>` keys are `add`ed by everyone: exactly one add may win each;
//   - `pool:<n>` keys are `add`ed and `pop`ped by everyone: each value added can
//     be popped once only, so per key, adds won = pops that got a value (+1 if
//     a value is left);
//   - `t<id>:` keys get short TTLs and are removed by `purgeExpired`.
//
// Any exception, and any read that disagrees with the child's own model, is
// recorded in the report: the test asserts that both lists are empty.
//
// As a child process:  node worker-mix.cjs <entry> <path> <id> <ops> <seed>
//   prints "ready", waits for a line on stdin, prints the report as one JSON line.
// As a worker thread:  workerData = { entry, path, id, ops, seed }
//   posts "ready", waits for a message, posts the report.
'use strict';
const { isMainThread, parentPort, workerData } = require('node:worker_threads');

const { mulberry32 } = require('./prng.cjs');

const OWN_KEYS = 200;
const RACE_KEYS = 50;
const POOL_KEYS = 10;

function run({ entry, path, id, ops, seed }) {
  const { KVStore } = require(entry);
  const rnd = mulberry32(seed);
  const pick = (n) => Math.floor(rnd() * n);
  const report = { id, ops: 0, errors: [], mismatches: [], incr: 0, acked: {}, addWins: [], poolAdds: {}, poolPops: {}, counts: {} };
  const own = new Map(); // this child's model of its own keys
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const mismatch = (op, key, expected, actual) =>
    report.mismatches.push({ op, key, expected: expected === undefined ? '<missing>' : expected, actual: actual === undefined ? '<missing>' : actual });
  const count = (op) => (report.counts[op] = (report.counts[op] ?? 0) + 1);

  let store;
  try {
    store = new KVStore(path, { table: 'mix', timeout: 10_000 });
  } catch (err) {
    report.errors.push({ op: 'open', code: err.code, message: err.message });
    return report;
  }
  const mine = () => `c${id}:${String(pick(OWN_KEYS)).padStart(3, '0')}`;

  for (let i = 0; i < ops; i++) {
    const r = rnd();
    let op = '?';
    try {
      if (r < 0.22) {
        op = 'set';
        const key = mine();
        const value = { id, i };
        store.set(key, value);
        own.set(key, value);
      } else if (r < 0.37) {
        op = 'get';
        const key = mine();
        const value = store.get(key);
        if (!same(value, own.get(key))) mismatch(op, key, own.get(key), value);
      } else if (r < 0.52) {
        op = 'incr';
        store.incr('counter');
        report.incr++;
      } else if (r < 0.57) {
        op = 'add';
        const key = mine();
        const stored = store.add(key, { id, i, add: true });
        if (stored !== !own.has(key)) mismatch(op, key, !own.has(key), stored);
        if (stored) own.set(key, { id, i, add: true });
      } else if (r < 0.62) {
        op = 'add-race';
        const key = `race:${String(pick(RACE_KEYS)).padStart(2, '0')}`;
        if (store.add(key, id)) report.addWins.push(key);
      } else if (r < 0.70) {
        op = 'delete';
        const key = mine();
        const removed = store.delete(key);
        if (removed !== own.has(key)) mismatch(op, key, own.has(key), removed);
        own.delete(key);
      } else if (r < 0.74) {
        op = 'pop';
        const key = mine();
        const value = store.pop(key, '<missing>');
        if (!same(value, own.has(key) ? own.get(key) : '<missing>')) mismatch(op, key, own.get(key), value);
        own.delete(key);
      } else if (r < 0.80) {
        op = 'setMany';
        const entries = Array.from({ length: 1 + pick(20) }, (_, j) => [mine(), { id, i, j }]);
        store.setMany(entries);
        for (const [key, value] of entries) own.set(key, value);
      } else if (r < 0.84) {
        op = 'getMany';
        const keys = Array.from({ length: 5 }, mine);
        const found = store.getMany(keys);
        for (const key of keys) if (!same(found.get(key), own.get(key))) mismatch(op, key, own.get(key), found.get(key));
      } else if (r < 0.90) {
        op = 'set-ttl';
        store.set(`t${id}:${pick(50)}`, i, 0.005 + rnd() * 0.05);
      } else if (r < 0.93) {
        op = 'purgeExpired';
        store.purgeExpired();
      } else if (r < 0.955) {
        op = 'transaction';
        const key = mine();
        const value = { id, i, tx: true };
        store.transaction((s) => {
          s.incr('counter');
          s.set(key, value);
        });
        report.incr++;
        own.set(key, value);
      } else if (r < 0.99) {
        // A pool of keys everyone adds to and pops from: each value may be popped once only.
        const key = `pool:${String(pick(POOL_KEYS)).padStart(2, '0')}`;
        if (rnd() < 0.5) {
          op = 'pool-add';
          if (store.add(key, { id, i })) report.poolAdds[key] = (report.poolAdds[key] ?? 0) + 1;
        } else {
          op = 'pool-pop';
          if (store.pop(key, '<missing>') !== '<missing>') report.poolPops[key] = (report.poolPops[key] ?? 0) + 1;
        }
      } else if (r < 0.995) {
        op = 'set-shared';
        store.set('shared:last', { id, i });
      } else {
        op = 'keys';
        const keys = store.keys({ prefix: `c${id}:` });
        const expected = [...own.keys()].sort();
        if (!same(keys, expected)) mismatch(op, `c${id}:*`, expected, keys);
      }
      count(op);
      report.ops++;
    } catch (err) {
      report.errors.push({ op, i, code: err.code, message: err.message, cause: err.cause?.code });
    }
  }
  try {
    store.close();
  } catch (err) {
    report.errors.push({ op: 'close', code: err.code, message: err.message });
  }
  report.acked = Object.fromEntries(own);
  return report;
}

if (isMainThread) {
  const [entry, path, id, ops, seed] = process.argv.slice(2);
  process.stdin.once('data', () => {
    const report = run({ entry, path, id: Number(id), ops: Number(ops), seed: Number(seed) });
    process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
  });
  process.stdout.write('ready\n');
} else {
  parentPort.once('message', () => parentPort.postMessage(run(workerData)));
  parentPort.postMessage('ready');
}
