// A child process of the stampede tests (tests/scache-stampede.test.ts): opens a store through the
// built package, wraps one slow function with scache's lease, says "ready", waits for "go" on stdin,
// calls the function once and prints one JSON report:
//   { pid, value, ms, ticks, stats }   (or { pid, error })
// Each run of the function appends this process's pid to a marker file and prints "computing", so
// the test counts runs across processes and knows who holds the lease. While the call is under way a
// 10 ms interval counts ticks: on an async wait the event loop keeps running and they add up.
//   node stampede-caller.cjs '<json config>'
// config: { engine: 'sqlite' | 'sqlite-async' | 'pg', path?, url?, pgSchema?, table, name, lease,
//           fn: 'sync' | 'async', workMs, marker, arg }
// The built entries come in DRIZZLE_KV_ENTRY (the root), DRIZZLE_KV_SQLITE_ENTRY and DRIZZLE_KV_PG_ENTRY.
'use strict';
const { appendFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const { KVStore, scache } = require(process.env.DRIZZLE_KV_ENTRY);

const config = JSON.parse(process.argv[2]);
const say = (line) => process.stdout.write(`${line}\n`);

async function open() {
  switch (config.engine) {
    case 'sqlite':
      return new KVStore(config.path, config.table);
    case 'sqlite-async':
      return require(process.env.DRIZZLE_KV_SQLITE_ENTRY).openStore(config.path, { table: config.table });
    case 'pg':
      return require(process.env.DRIZZLE_KV_PG_ENTRY).openStore(config.url, { pgSchema: config.pgSchema, table: config.table });
    default:
      throw new Error(`unknown engine ${config.engine}`);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function begin() {
  appendFileSync(config.marker, `${process.pid}\n`);
  say('computing');
}

// The same function in every process (the `name` option makes their keys agree): sync, or async.
const slowSync = function slow(arg) {
  begin();
  Atomics.wait(sleeper, 0, 0, config.workMs);
  return { arg, by: process.pid };
};
const slowAsync = async function slow(arg) {
  begin();
  await new Promise((resolve) => setTimeout(resolve, config.workMs));
  return { arg, by: process.pid };
};

open().then(
  (store) => {
    const cached = scache({ store, name: config.name, lease: config.lease })(config.fn === 'sync' ? slowSync : slowAsync);
    process.stdin.once('data', async () => {
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      const started = performance.now();
      let report;
      try {
        const value = await cached(config.arg);
        report = { pid: process.pid, value, ms: Math.round(performance.now() - started), ticks, stats: cached.stats() };
      } catch (err) {
        report = { pid: process.pid, error: `${err && err.code} ${err && err.message}` };
      }
      clearInterval(ticker);
      await store.close();
      process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
    });
    say('ready');
  },
  (err) => {
    say(`ERR ${err && err.code} ${err && err.message}`);
    process.exit(1);
  },
);
