#!/usr/bin/env node
// drizzle-kv/pg against raw node-postgres in ONE process, in alternating
// blocks, so both see the same moments of a noisy machine (the main benchmark
// compares fresh processes, where a ~100 µs round trip varies more from one
// process to the next than the library adds):
//   npm run build && node bench/pg-ab.mjs [--url URL] [--blocks 6] [--ops 2000]
// Both run on one Pool of max 1 connection with synchronous_commit off; raw
// runs the SQL text drizzle-kv sends, as named prepared statements with
// rowMode 'array'. Prints µs per op and client CPU µs per op, block by block.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from './dataset.mjs';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const url = arg('--url', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const blocks = Number(arg('--blocks', 6));
const ops = Number(arg('--ops', 2000));

const { Pool } = require('pg');
const { openStore } = require(join(ROOT, 'dist/pg.cjs'));

const schema = `kvab_${process.pid}`;
const pool = new Pool({ connectionString: url, max: 1, options: '-c synchronous_commit=off' });
const store = await openStore(pool, { pgSchema: schema, table: 'ab' });
const value = { a: 1, b: 'hello' };
await store.set('k', value);
await store.get('k');

// The SQL drizzle-kv prepared, read from the server's view of the one connection's prepared statements.
const { rows: prepared } = await pool.query('SELECT statement FROM pg_prepared_statements');
const textOf = (start) => {
  const found = prepared.map((r) => r.statement).find((s) => s.startsWith(start));
  if (found === undefined) throw new Error(`drizzle-kv prepared no statement starting with ${start}`);
  return found;
};
const getText = textOf('select "value", "expires_at"');
const setText = textOf('insert into');

let i = 0;
const systems = {
  get: {
    raw: () => pool.query({ name: 'ab_get', text: getText, values: ['k'], rowMode: 'array' }),
    'drizzle-kv': () => store.get('k'),
  },
  set: {
    raw: () => {
      const key = `r${i++ % 1000}`;
      const bytes = Buffer.from(JSON.stringify(value));
      return pool.query({ name: 'ab_set', text: setText, values: [key, bytes, null, Date.now(), Buffer.byteLength(key) + bytes.length], rowMode: 'array' });
    },
    'drizzle-kv': () => store.set(`k${i++ % 1000}`, value),
  },
};

try {
  for (const [op, pair] of Object.entries(systems)) {
    for (let w = 0; w < ops; w++) for (const run of Object.values(pair)) await run(); // warm both
    const results = { raw: [], 'drizzle-kv': [] };
    for (let block = 0; block < blocks; block++) {
      for (const [system, run] of Object.entries(pair)) {
        const cpu = process.cpuUsage();
        const started = performance.now();
        for (let n = 0; n < ops; n++) await run();
        const used = process.cpuUsage(cpu);
        results[system].push({ us: ((performance.now() - started) * 1000) / ops, cpu: (used.user + used.system) / ops });
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const line = (system) => `${system.padEnd(10)} ${results[system].map((r) => `${r.us.toFixed(0)}/${r.cpu.toFixed(0)}`).join('  ')}`;
    console.log(`${op}: µs per op / client CPU µs per op, ${blocks} alternating blocks of ${ops}`);
    console.log(`  ${line('raw')}\n  ${line('drizzle-kv')}`);
    console.log(`  median ratio drizzle-kv / raw: ${(median(results['drizzle-kv'].map((r) => r.us)) / median(results.raw.map((r) => r.us))).toFixed(2)}×`);
  }
} finally {
  await store.close();
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
}
