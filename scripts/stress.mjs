#!/usr/bin/env node
// Stress run of the reliability tests, at a larger scale than CI: many
// processes doing a random mix of operations on one file, then a writer
// killed with SIGKILL over and over. Uses the built package (dist/): run
// `npm run build` first.
//
//   node scripts/stress.mjs [--processes 16] [--ops 20000] [--crash-rounds 50] [--threads] [--seed 1] [--keep]
//
// --threads runs the mix in worker threads (one connection each) instead of processes;
// --keep leaves the database files in place and prints where.
// Exits with 1 if any error reached a caller, any acknowledged write was lost,
// or any integrity check failed.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const harness = require(join(root, 'tests/children/harness.cjs'));
// The package entry, as `require('drizzle-kv')` resolves it.
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).main;
const built = join(root, main);

const { values: args } = parseArgs({
  options: {
    processes: { type: 'string', default: '16' },
    ops: { type: 'string', default: '20000' },
    'crash-rounds': { type: 'string', default: '50' },
    threads: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});
const processes = Number(args.processes);
const ops = Number(args.ops);
const crashRounds = Number(args['crash-rounds']);
const seed = Number(args.seed);
for (const [name, n] of Object.entries({ processes, ops, 'crash-rounds': crashRounds, seed })) {
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} must be a whole number, got ${JSON.stringify(args[name])}`);
    process.exit(2);
  }
}
if (!existsSync(built)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}

const Database = require('better-sqlite3');
const dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-stress-'));
// A private copy of dist/, so a rebuild during the run cannot pull it away from the children;
// its dependencies resolve through a link to the repository's node_modules.
cpSync(join(root, 'dist'), join(dir, 'pkg/dist'), { recursive: true });
symlinkSync(join(root, 'node_modules'), join(dir, 'pkg/node_modules'), 'dir');
const entry = join(dir, 'pkg', main);
const started = Date.now();
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
let failed = false;

const sqlite = new Database(':memory:').prepare('SELECT sqlite_version()').pluck().get();
console.log(`drizzle-kv stress: ${main}, SQLite ${sqlite}, Node ${process.version}, seed ${seed}`);

if (processes > 0 && ops > 0) {
  const path = join(dir, 'mix.db');
  const kind = args.threads ? 'worker threads' : 'processes';
  const { reports, ms } = await harness.runMix({ entry, path, processes, ops, seed, threads: args.threads });
  const c = harness.checkMix({ entry, path, reports, processes });
  const problems =
    c.errors.length + c.mismatches.length + c.lost.length + c.extra.length + c.raceProblems.length + c.missingReports +
    (c.counter.actual === c.counter.expected ? 0 : 1) + (c.integrity === 'ok' ? 0 : 1);
  failed ||= problems > 0;
  console.log(`mix:     ${processes} ${kind} × ${ops} ops = ${c.operations} operations in ${seconds(ms)} (${Math.round(c.operations / (ms / 1000))} ops/s)`);
  console.log(`         errors surfaced: ${c.errors.length}   read-your-writes mismatches: ${c.mismatches.length}`);
  console.log(`         writes lost: ${c.lost.length} of ${c.acknowledged} acknowledged   deleted keys come back: ${c.extra.length}`);
  console.log(`         counter: ${c.counter.actual} (expected ${c.counter.expected})   contested add/pop races broken: ${c.raceProblems.length}`);
  console.log(`         integrity_check: ${c.integrity}`);
  for (const e of c.errors.slice(0, 5)) console.log(`         error: ${JSON.stringify(e)}`);
  for (const m of c.mismatches.slice(0, 5)) console.log(`         mismatch: ${JSON.stringify(m)}`);
  for (const l of c.lost.slice(0, 5)) console.log(`         lost: ${JSON.stringify(l)}`);
}

if (crashRounds > 0) {
  const path = join(dir, 'crash.db');
  const t = Date.now();
  const s = await harness.crashLoop({ entry, path, rounds: crashRounds, seed });
  failed ||= s.problems.length > 0 || s.killed !== crashRounds;
  console.log(`crash:   ${s.rounds} rounds, ${s.killed} SIGKILLs (${s.killedInBatch} inside a 2000-row setMany, ${s.killedInClear} inside a clear) in ${seconds(Date.now() - t)}`);
  console.log(`         acknowledged: ${s.writes} writes (${s.acknowledgedKeys} keys, ${s.acknowledgedBatches} batches)`);
  console.log(`         writes lost or half-applied: ${s.problems.length}   integrity_check after every kill: ${s.problems.some((p) => p.includes('integrity')) ? 'FAILED' : 'ok'}`);
  for (const p of s.problems.slice(0, 10)) console.log(`         problem: ${p}`);
}

console.log(`total:   ${seconds(Date.now() - started)}, ${failed ? 'FAILED' : 'all guarantees held'}`);
if (args.keep) console.log(`files kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
