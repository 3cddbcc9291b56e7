#!/usr/bin/env node
// Stress run of the reliability tests, at a larger scale than CI: many
// processes doing a random mix of operations on one file, then a writer
// killed with SIGKILL over and over, then reader processes overlapping on an
// 18 MiB store while one process writes, for the -wal bound. Uses the built
// package (dist/): run `npm run build` first.
//
//   node scripts/stress.mjs [--processes 16] [--ops 20000] [--crash-rounds 50]
//                           [--wal-seconds 60] [--wal-readers 4] [--wal-reads long] [--wal-baseline] [--threads] [--seed 1] [--keep]
//
// --threads runs the mix in worker threads (one connection each) instead of processes;
// --wal-seconds 0 skips the -wal phase; --wal-reads short leaves out the readers' whole-store
// items() (long read transactions); --wal-baseline also builds the package without its -wal
// maintenance (src/wal.ts's two functions as no-ops, esbuild, into the temp folder), times
// `set` through both builds, and runs the phase through both at the same time, to show
// what the bound prevents and what it costs;
// --keep leaves the database files in place and prints where.
// Exits with 1 if any error reached a caller, any acknowledged write was lost,
// any integrity check failed, or the -wal passed its bound.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const harness = require(join(root, 'tests/children/harness.cjs'));
const walHarness = require(join(root, 'tests/children/wal-harness.cjs'));
// The package entry, as `require('drizzle-kv')` resolves it.
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).main;
const built = join(root, main);

const { values: args } = parseArgs({
  options: {
    processes: { type: 'string', default: '16' },
    ops: { type: 'string', default: '20000' },
    'crash-rounds': { type: 'string', default: '50' },
    'wal-seconds': { type: 'string', default: '60' },
    'wal-readers': { type: 'string', default: '4' },
    'wal-reads': { type: 'string', default: 'long' },
    'wal-baseline': { type: 'boolean', default: false },
    threads: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});
const processes = Number(args.processes);
const ops = Number(args.ops);
const crashRounds = Number(args['crash-rounds']);
const seed = Number(args.seed);
const walSeconds = Number(args['wal-seconds']);
const walReaders = Number(args['wal-readers']);
for (const [name, n] of Object.entries({ processes, ops, 'crash-rounds': crashRounds, 'wal-seconds': walSeconds, 'wal-readers': walReaders, seed })) {
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} must be a whole number, got ${JSON.stringify(args[name])}`);
    process.exit(2);
  }
}
if (!['long', 'short'].includes(args['wal-reads'])) {
  console.error(`--wal-reads must be long or short, got ${JSON.stringify(args['wal-reads'])}`);
  process.exit(2);
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

if (walSeconds > 0) {
  const { MiB, WAL_BOUND_BYTES } = walHarness;
  const mib = (bytes) => (bytes >= 1024 * MiB ? `${(bytes / 1024 / MiB).toFixed(2)} GiB` : `${(bytes / MiB).toFixed(1)} MiB`);
  // The baseline: this tree bundled the way scripts/build.mjs bundles the package entry, but with the
  // -wal maintenance (src/wal.ts) replaced by no-ops: drizzle-kv exactly as it is, without the bound.
  // The cost is measured against the same tree bundled the same way with it, so that nothing else differs.
  const bundle = async (name, withoutWal) => {
    const { build } = await import('esbuild');
    const out = join(dir, name);
    mkdirSync(out);
    symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
    const outfile = join(out, 'dist/index.cjs');
    const stub = {
      name: 'without-wal-maintenance',
      setup(b) {
        b.onLoad({ filter: /[\\/]src[\\/]wal\.ts$/ }, () => ({
          loader: 'ts',
          contents: 'export function limitWal(): void {}\nexport function checkpointIfLarge(): void {}\n',
        }));
      },
    };
    await build({
      entryPoints: [join(root, 'src/index.ts')], outfile, external: ['better-sqlite3'],
      bundle: true, platform: 'node', target: 'node20', format: 'cjs', minifySyntax: true, logLevel: 'warning',
      plugins: withoutWal ? [stub] : [],
    });
    return outfile;
  };
  let entryWithout;
  if (args['wal-baseline']) {
    entryWithout = await bundle('pkg-without-wal-maintenance', true);
    const entryWith = await bundle('pkg-with-wal-maintenance', false);

    // What the maintenance costs a write with no reader about (the bench's set row): both builds in
    // one process, in alternating blocks (tests/children/wal-cost.cjs), in several fresh processes.
    const n = 20_000;
    const reps = 7;
    const costRuns = [];
    for (let i = 0; i < reps; i++) {
      const folder = mkdtempSync(join(dir, 'cost-'));
      const r = spawnSync(process.execPath, [join(root, 'tests/children/wal-cost.cjs'), entryWith, entryWithout, folder, String(n)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`wal-cost.cjs failed: ${r.stderr}`);
      costRuns.push(JSON.parse(r.stdout));
    }
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const [withIt, without, diff, stat] = [
      median(costRuns.map((r) => r.with)), median(costRuns.map((r) => r.without)),
      median(costRuns.map((r) => r.with - r.without)), median(costRuns.map((r) => r.stat)),
    ];
    console.log(`wal cost: set on a fresh file, no reader (medians of ${reps} processes × ${n} sets through each build, alternating blocks):`);
    console.log(`         with -wal maintenance ${withIt.toFixed(2)} µs, without ${without.toFixed(2)} µs, difference ${diff.toFixed(2)} µs per set;`);
    console.log(`         the check when there is nothing to do, one stat of the -wal per 64 sets: ${stat.toFixed(2)} µs (${(stat / 64).toFixed(3)} µs per set)`);
  }
  // With --wal-baseline, both builds at the same time, each with its own readers and file: on a shared
  // machine only figures taken together compare (this also doubles the load the bound must hold under).
  const builds = args['wal-baseline'] ? [['without', entryWithout], ['with', entry]] : [['with', entry]];
  const results = await Promise.all(builds.map(async ([build, buildEntry]) => {
    const path = join(dir, `wal-${build}.db`);
    const storeBytes = walHarness.fillStore({ entry: buildEntry, path });
    const trace = [];
    const r = await walHarness.runWalGrowth({
      entry: buildEntry, path, readers: walReaders, seconds: walSeconds, reads: args['wal-reads'], seed,
      onSecond: (ms, bytes) => trace.push(Math.round(bytes / MiB)),
    });
    return { build, storeBytes, trace, r };
  }));
  for (const { build, storeBytes, trace, r } of results) {
    const held = r.maxWalBytes <= WAL_BOUND_BYTES;
    // The baseline shows what happens without the bound; only the package as built must hold it.
    if (build === 'with') failed ||= !held || r.problems.length > 0 || r.integrity !== 'ok';
    else failed ||= r.problems.length > 0 || r.integrity !== 'ok';
    const writes = (r.writer?.sets ?? 0) + (r.writer?.batches ?? 0);
    const label = build === 'with' ? 'wal:    ' : 'wal (baseline, at the same time: the build without -wal maintenance):\n        ';
    console.log(`${label} ${walReaders} reader processes (${args['wal-reads']} reads) + 1 writer for ${seconds(r.ms)} on a ${mib(storeBytes)} store`);
    console.log(`         max -wal: ${mib(r.maxWalBytes)} (bound ${mib(WAL_BOUND_BYTES)}: ${held ? 'held' : 'PASSED'})   emptied ${r.truncations}×   ≥ ${mib(r.appendedBytes)} written through it`);
    console.log(`         writer: ${r.writer?.sets ?? 0} sets + ${r.writer?.batches ?? 0} setMany of 100 (${Math.round(writes / (r.ms / 1000))} calls/s), slowest call ${Math.round(r.writer?.slowest ?? 0)} ms`);
    if (r.writer?.emptied) {
      const share = (100 * r.writer.emptiedMs) / r.ms;
      console.log(`         the ${r.writer.emptied} calls that emptied the -wal took ${(r.writer.emptiedMs / 1000).toFixed(1)} s (${Math.round(r.writer.emptiedMs / r.writer.emptied)} ms each, ${share.toFixed(0)}% of the run)`);
    }
    console.log(`         readers: ${r.readers.reduce((n, x) => n + (x?.passes ?? 0), 0)} passes, longest items()/getMany() ${Math.round(Math.max(0, ...r.readers.map((x) => x?.longest ?? 0)))} ms`);
    console.log(`         -wal MiB each second: ${trace.join(' ')}`);
    console.log(`         errors surfaced: ${r.problems.length}   integrity_check: ${r.integrity}`);
    for (const p of r.problems.slice(0, 5)) console.log(`         problem: ${p}`);
  }
}

console.log(`total:   ${seconds(Date.now() - started)}, ${failed ? 'FAILED' : 'all guarantees held'}`);
if (args.keep) console.log(`files kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
