#!/usr/bin/env node
// drizzle-kv benchmark: node bench/run.mjs [--quick] [--out FILE] [--svg FILE] [--require-engines]
//
// Measures drizzle-kv side by side with raw better-sqlite3 (same table, same
// SQL, statements prepared once) and Keyv + @keyv/sqlite, in one run, because
// the machine is shared and noisy: only numbers taken together compare.
// Every cell is the median of several repetitions, each a fresh
// `node bench/worker.mjs` process; repetitions are interleaved across
// workloads and systems so a slow moment hits all of them alike.
// Prints a markdown table to stdout (progress goes to stderr). The engines' rows (PostgreSQL, libSQL, async
// SQLite) are in bench/engines.mjs, run in the same repetitions; --svg FILE charts every ratio row (bench/svg.mjs).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BENCH_DIR, BUILT, ROOT, SIZES, TTL_SECONDS, assertBuilt, key as keyOf, median } from './dataset.mjs';
import { prepareEngines } from './engines.mjs';
import { ratioChart } from './svg.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const requireEngines = args.includes('--require-engines');
const valueOf = (flag) => (args.includes(flag) ? (args[args.indexOf(flag) + 1] ?? '') : undefined);
const outFile = valueOf('--out');
const svgFile = valueOf('--svg');
const valued = new Set(['--out', '--svg'].flatMap((f) => (args.includes(f) ? [args.indexOf(f) + 1] : [])));
if (args.some((a, i) => !valued.has(i) && !['--quick', '--out', '--svg', '--require-engines'].includes(a)) || outFile === '' || svgFile === '') {
  console.error('usage: node bench/run.mjs [--quick] [--out FILE] [--svg FILE] [--require-engines]');
  process.exit(2);
}
const S = quick ? SIZES.quick : SIZES.full;
const started = performance.now();
const loadAtStart = os.loadavg()[0];

// Snapshot dist/ into a temp folder (node_modules linked beside it so its
// requires resolve), so the whole run measures one build.
assertBuilt();
if (!relative(ROOT, BUILT).startsWith('dist')) throw new Error(`the package entry ${BUILT} is not in dist/`);
const tmp = mkdtempSync(join(os.tmpdir(), 'drizzle-kv-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
// What was measured, read now, when the snapshot is taken: dist/ and HEAD may move during the run.
const build = {
  at: statSync(BUILT).mtime.toISOString(),
  commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || 'unknown',
  date: new Date().toISOString(),
};
cpSync(join(ROOT, 'dist'), join(tmp, 'dist'), { recursive: true });
symlinkSync(join(ROOT, 'node_modules'), join(tmp, 'node_modules'), 'dir');
const env = { ...process.env, BENCH_DIST: join(tmp, relative(ROOT, BUILT)) };

const haveKeyv = existsSync(join(BENCH_DIR, '.deps/node_modules/@keyv/sqlite'));
if (!haveKeyv) console.error('Keyv is not installed: its column stays empty. See bench/README.md (bench/.deps).');
const engines = await prepareEngines({ quick, tmp, env, requireEngines });

/** Runs one measurement in a fresh process; returns its JSON result. */
function worker(workload, system, params) {
  // --expose-gc for every system alike: the RSS workload collects before its baseline.
  const r = spawnSync(process.execPath, ['--expose-gc', join(BENCH_DIR, 'worker.mjs'), workload, system, JSON.stringify(params)], {
    encoding: 'utf8',
    env,
  });
  if (r.status !== 0) {
    console.error(`\nworker ${workload} ${system} failed (exit ${r.status}):\n${r.stderr}`);
    process.exit(1);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

let seq = 0;
const freshFile = () => join(tmp, `w${++seq}.db`);

/** Fixture files, built once per run by a worker and then only read (or copied). */
const fixtures = new Map();
function fixture(system, size, kind = 'plain') {
  const id = `${system}-${kind}-${size}`;
  if (!fixtures.has(id)) {
    const file = join(tmp, `${id}.db`);
    const { value } = worker('load', system, { file, size, kind });
    console.error(`  fixture ${id}: ${(value / 1000).toFixed(1)} s`);
    fixtures.set(id, file);
  }
  return fixtures.get(id);
}

const ratioTarget = (max) => ({ max, text: `≤${max.toFixed(2)}×`, ok: (c) => c.ratio <= max });
const absTarget = (max, unit) => ({ text: `≤${max} ${unit}`, ok: (c) => c.drizzle <= max });
const k = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : `${n}`);

// Each row: a label (with its unit), the workload, its parameters per system
// (n is S.keyvN for Keyv, S.n otherwise), and the target.
// Raw with mmap 512 MiB and drizzle-kv's cache (128 MiB): not a row of its own, shown under the RSS row.
const rssRawMmap = { label: 'RSS growth, raw with mmap', job: 'rss', hidden: true, systems: ['raw'], params: () => ({ file: fixture('raw', S.huge), size: S.huge, mmap: true }) };
/**
 * drizzle-kv with limits against drizzle-kv without, in the same run: a set on a store with a limit it never
 * reaches (the check after every write), and gets under LRU and LFU (each read recorded in memory, folded into
 * writes). Only drizzle-kv runs; each row ends with its ratio to the unlimited row above it.
 */
function limitRows() {
  const never = 1e9;
  const ratioLine = (what, base, max) => (c) => {
    const ratio = c.drizzle / med(base, 'drizzle-kv');
    return [`| ${what} | ${ratio.toFixed(2)}× | — | — | — | ≤${max.toFixed(2)}× ${mark(ratio <= max)} |`];
  };
  const getHit = () => rows.find((r) => r.job === 'get-hit' && r.label === `get, hit (µs/op)`);
  const get = (eviction) => ({
    label: `get, hit, store with eviction '${eviction}' (µs/op)`,
    job: 'get-hit',
    systems: ['drizzle-kv'],
    params: (s, n) => ({ fixture: fixture(s, n), file: freshFile(), n, size: n, limits: { maxEntries: never, eviction } }),
    after: (c) => ratioLine(`… ${eviction.toUpperCase()} tracking / no limit`, getHit(), 1.1)(c),
  });
  return [
    {
      label: `set, no TTL, store with a limit it never reaches (µs/op)`,
      job: 'set',
      systems: ['drizzle-kv'],
      params: (_s, n) => ({ file: freshFile(), n, limits: { maxEntries: never } }),
      after: ratioLine('… with a limit / no limit', setNormal, 1.25),
    },
    {
      label: `set, no TTL, store kept at maxEntries ${k(S.n / 10)}, evicting (µs/op)`,
      job: 'set',
      systems: ['drizzle-kv'],
      params: (_s, n) => ({ file: freshFile(), n, limits: { maxEntries: S.n / 10 } }),
      after: ratioLine('… evicting / no limit', setNormal, 1.25),
    },
    get('lru'),
    get('lfu'),
  ];
}

const setNormal = { label: `set, no TTL (µs/op)`, job: 'set', keyv: true, params: (_s, n) => ({ file: freshFile(), n }), target: ratioTarget(1.1) };
const rows = [
  setNormal,
  { label: `set, TTL ${TTL_SECONDS} s (µs/op)`, job: 'set', keyv: true, params: (_s, n) => ({ file: freshFile(), n, ttl: TTL_SECONDS }), target: ratioTarget(1.1) },
  {
    label: `set, no TTL, durability 'full' (raw: synchronous=FULL) (µs/op)`,
    job: 'set',
    params: (_s, n) => ({ file: freshFile(), n, durability: 'full' }),
    // The cost of an fsync per commit, against the default 'normal' row above (same N, same workload).
    after: (c) => [
      `| set cost of durability 'full' / 'normal' | ${(c.drizzle / med(setNormal, 'drizzle-kv')).toFixed(2)}× | ${(c.raw / med(setNormal, 'raw')).toFixed(2)}× | — | — | — |`,
    ],
  },
  { label: `get, hit (µs/op)`, job: 'get-hit', keyv: true, params: (s, n) => ({ file: fixture(s, n), n, size: n }), target: ratioTarget(1.25) },
  ...limitRows(),
  { label: `get, miss (µs/op)`, job: 'get-miss', keyv: true, params: (s, n) => ({ file: fixture(s, n), n }), target: ratioTarget(1.25) },
  { label: `setMany of ${k(S.n)} in one transaction (ms)`, job: 'set-many', params: (_s, n) => ({ file: freshFile(), n }), target: ratioTarget(1.3) },
  { label: `keys() over ${k(S.list)} (ms)`, job: 'keys', params: (s) => ({ file: fixture(s, S.list), size: S.list }), target: ratioTarget(1.3) },
  { label: `entries() full iteration over ${k(S.list)} (ms)`, job: 'entries', params: (s) => ({ file: fixture(s, S.list), size: S.list }), target: ratioTarget(1.3) },
  { label: `purgeExpired(), nothing expired, ${k(S.huge)} rows (ms/call)`, job: 'purge', params: (s) => ({ fixture: fixture(s, S.huge, 'purge'), file: freshFile(), size: S.huge, expired: false }), target: absTarget(1, 'ms') },
  { label: `purgeExpired(), 10% expired, ${k(S.huge)} rows (ms)`, job: 'purge', params: (s) => ({ fixture: fixture(s, S.huge, 'purge'), file: freshFile(), size: S.huge, expired: true }) },
  ...S.scale.map((size) => ({ label: `get hit at ${k(size)} keys (µs/op)`, job: 'get-hit', params: (s, n) => ({ file: fixture(s, size), n, size }), size })),
  { label: `cold CLI process: open ${k(S.n)} store, 1 get, exit (ms)`, job: 'cold', node: true, params: (s) => ({ file: s === 'node' ? undefined : fixture(s, S.n), runs: S.coldRuns }), target: ratioTarget(1.15) },
  {
    label: `RSS growth iterating ${k(S.huge)} entries (MB)`,
    job: 'rss',
    params: (s) => ({ file: fixture(s, S.huge), size: S.huge }),
    target: absTarget(100, 'MB'),
    // The same peak, split by /proc/self/status: RssAnon (heap, SQLite's page cache) and RssFile (mmap'd file pages).
    after: (_c, row) =>
      [['anon', 'anonymous (RssAnon)'], ['file', 'file-backed (RssFile: mmap\'d pages)']].map(([f, what]) => {
        const [d, r] = [med(row, 'drizzle-kv', f), med(row, 'raw', f)];
        return `| … of which ${what} (MB) | ${num(d)} | ${num(r)} | — | — | — |`;
      }).concat(
        `| … raw with mmap_size 512 MiB and drizzle-kv's cache_size: growth (anonymous / file-backed) (MB) | — | ${num(med(rssRawMmap, 'raw'))} (${num(med(rssRawMmap, 'raw', 'anon'))} / ${num(med(rssRawMmap, 'raw', 'file'))}) | — | — | — |`,
      ),
  },
  rssRawMmap,
  { label: `scache hit, \`add(1, 2)\` (µs/call)`, job: 'scache-hit', params: (_s, n) => ({ file: freshFile(), n }), target: ratioTarget(1.5) },
];

// Memory-mapped I/O on a store larger than the 128 MiB page cache: each system with mmap off (drizzle-kv's
// default, mmapSize 0) and with mmapSize 512 MiB, in the same run; raw with drizzle-kv's cache_size and the same
// mmap_size, so that within a column the two rows differ in mmap alone. The second row of each pair ends
// with the cost of the default: mmap off / mmap on.
const MMAP_SIZE = 536_870_912;
const LARGE = quick ? 20_000 : 1_000_000;
const largeFixture = (s) => fixture(s, LARGE, 'wide');
const mmapPair = (label, unit, job, params) => {
  const off = { label: `${label}, default mmapSize 0 (${unit})`, job, params: (s, n) => ({ ...params(s, n), mmapSize: 0 }) };
  const on = {
    label: `${label}, mmapSize 512 MiB (${unit})`,
    job,
    params: (s, n) => ({ ...params(s, n), mmapSize: MMAP_SIZE }),
    after: (c) => [`| … cost of the default: mmapSize 0 / 512 MiB | ${(med(off, 'drizzle-kv') / c.drizzle).toFixed(2)}× | ${(med(off, 'raw') / c.raw).toFixed(2)}× | — | — | — |`],
  };
  return [off, on];
};
const mmapRows = [
  ...mmapPair(`get hit, ${k(LARGE)} keys of 151-byte values`, 'µs/op', 'get-hit', (s, n) => ({ file: largeFixture(s), n, size: LARGE })),
  // One scan per process: the file is larger than the page cache, so later scans would not be warmer (full run).
  ...mmapPair(`entries() full iteration over ${k(LARGE)} keys of 151-byte values`, 'ms', 'entries', (s) => ({ file: largeFixture(s), size: LARGE, scans: 1 })),
];
rows.push(...mmapRows);

const systemsOf = (row) => row.systems ?? ['drizzle-kv', 'raw', ...(row.keyv && haveKeyv ? ['keyv'] : []), ...(row.node ? ['node'] : [])];
for (const row of rows) row.results = {};

for (let rep = 1; rep <= S.reps; rep++) {
  console.error(`repetition ${rep}/${S.reps}`);
  for (const row of rows) {
    for (const system of systemsOf(row)) {
      const n = system === 'keyv' ? S.keyvN : S.n;
      const result = worker(row.job, system, row.params(system, n));
      (row.results[system] ??= []).push(result);
      console.error(`  ${row.label.padEnd(58)} ${system.padEnd(10)} ${result.value.toFixed(3)}`);
    }
  }
  engines.repetition(rep);
}
engines.finish();

// A store kept at its limit while many entries are written (one process, drizzle-kv only): the worst write and the files' size.
const AT_LIMIT = { n: quick ? 20_000 : 1_000_000, maxBytes: quick ? 200_000 : 10_000_000 };
console.error(`at its limit: ${k(AT_LIMIT.n)} writes into maxBytes ${AT_LIMIT.maxBytes}`);
const atLimit = worker('at-limit', 'drizzle-kv', { file: freshFile(), ...AT_LIMIT });

// The `drizzle-kv` command, cold: `drizzle-kv get <file> <key>` from spawn to exit, next to the library's cold row.
const cliCold = (() => {
  const file = fixture('drizzle-kv', S.n);
  const times = [];
  for (let i = 0; i < S.coldRuns; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(tmp, 'dist/cli.cjs'), 'get', file, keyOf(0)], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`drizzle-kv get failed: ${r.stderr}`);
    times.push(performance.now() - t0);
  }
  return median(times);
})();

// ── The table ────────────────────────────────────────────────────────────────
const med = (row, system, field = 'value') => {
  const rs = row.results?.[system];
  return rs ? median(rs.map((r) => r[field])) : undefined;
};
const num = (v) =>
  v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);
const mark = (ok) => (ok ? '✓' : '✗ over');

const lines = [
  '| workload | drizzle-kv | raw better-sqlite3 | ratio | Keyv+sqlite | target |',
  '|---|---:|---:|---:|---:|---|',
];
const cells = [];
for (const row of rows.filter((r) => !r.hidden)) {
  const c = { drizzle: med(row, 'drizzle-kv'), raw: med(row, 'raw'), keyv: med(row, 'keyv') };
  c.ratio = c.drizzle / c.raw;
  cells.push([row, c]);
  const target = row.target ? `${row.target.text} ${mark(row.target.ok(c))}` : '—';
  const ratio = c.raw === undefined ? '—' : `${c.ratio.toFixed(2)}×`;
  lines.push(`| ${row.label} | ${num(c.drizzle)} | ${num(c.raw)} | ${ratio} | ${num(c.keyv)} | ${target} |`);
  if (row.after) lines.push(...row.after(c, row));
  // After the largest get-latency row: how much a get slows from the smallest store to the largest.
  if (row.size === S.scale[S.scale.length - 1]) {
    const [small, big] = [S.scale[0], row.size].map((size) => cells.find(([r]) => r.size === size)[1]);
    const g = { drizzle: big.drizzle / small.drizzle, raw: big.raw / small.raw };
    lines.push(
      `| get hit growth ${k(row.size)} / ${k(S.scale[0])} | ${g.drizzle.toFixed(2)}× | ${g.raw.toFixed(2)}× | — | — | ≤1.50× ${mark(g.drizzle <= 1.5)} |`,
    );
  }
}

const coldRow = rows.find((r) => r.job === 'cold');
lines.push(
  `| the \`drizzle-kv\` command, cold: \`drizzle-kv get <file> <key>\` of the ${k(S.n)} store, spawn to exit (ms) | ${num(cliCold)} | — | — | — | ${(cliCold / med(coldRow, 'drizzle-kv')).toFixed(2)}× the library's cold process |`,
);
lines.push(
  '',
  `**A store kept at its limit.** ${k(AT_LIMIT.n)} sets of ~100-byte entries into a store with \`maxBytes: ${AT_LIMIT.maxBytes}\` (eviction 'lrs'), one process:` +
    ` ${atLimit.evictions} evictions; the most bytes held after any write ${atLimit.maxHeld} (limit ${AT_LIMIT.maxBytes}); the files (database + WAL) at most` +
    ` ${(atLimit.maxFile / 2 ** 20).toFixed(1)} MB, ${(atLimit.maxFile / AT_LIMIT.maxBytes).toFixed(1)}× the limit; per write: median ${num(atLimit.median)} µs,` +
    ` 99.9th percentile ${num(atLimit.p999)} µs, worst ${num(atLimit.value)} µs (each write evicts at most 66 rows).`,
);

// ── Notes and machine facts ──────────────────────────────────────────────────
const rowOf = (job, extra = () => true) => rows.find((r) => r.job === job && extra(r));
const purgeNone = rowOf('purge', (r) => r.label.includes('nothing'));
const cold = rowOf('cold');
const durable = rowOf('set', (r) => r.label.includes('full'));
const fixtureMB = (id) => {
  const f = fixtures.get(id);
  return f && existsSync(f) ? statSync(f).size / 2 ** 20 : undefined;
};
const fileMB = (system) => fixtureMB(`${system}-plain-${S.huge}`);
const largeMB = (system) => fixtureMB(`${system}-wide-${LARGE}`);
/** The cold-process phases of a system, medians of the repetitions' medians. */
const coldSplit = (system) => {
  const [boot, reqMs, open, get, close, wall] = ['boot', 'require', 'open', 'get', 'close', 'value'].map((f) => med(cold, system, f));
  const rest = wall - (boot + reqMs + open + get + close);
  return `node start-up to first line ${num(boot)}, require ${num(reqMs)}, open ${num(open)}, first get ${num(get)}, close ${num(close)}; spawn + exit ${num(rest)} (wall ${num(wall)})`;
};
const pkg = (dir) => {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
};
const req = createRequire(join(ROOT, 'package.json'));
const sqliteVersion = (() => {
  const Database = req('better-sqlite3');
  const db = new Database(':memory:');
  const v = db.prepare('select sqlite_version()').pluck().get();
  db.close();
  return v;
})();
const cpus = os.cpus();
const deps = join(BENCH_DIR, '.deps/node_modules');
const seconds = (performance.now() - started) / 1000;

const notes = [
  `Each cell is the median of ${S.reps} repetition${S.reps > 1 ? 's' : ''}, each in a fresh process. ratio = drizzle-kv / raw (below 1: drizzle-kv is faster).`,
  `N = ${k(S.n)} operations for the µs/op rows (keys \`user:<i>\`, value \`{"name":"Alice","age":30,"tags":["a","b"]}\`); gets read keys in a fixed scattered order.` +
    ` Keyv+sqlite: N = ${k(S.keyvN)} only (it is slow), its default setup (rollback journal, a sync per write), every call awaited.`,
  'Raw better-sqlite3: the same table as drizzle-kv\'s store format 3 (`key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires_at INTEGER,' +
    ' updated_at, size, accessed_at, hits INTEGER NOT NULL DEFAULT 0, tags TEXT`), its partial expiry index and its tag index and triggers (which skip untagged rows), WAL + synchronous=NORMAL' +
    ' (drizzle-kv also sets a 128 MiB cache; no mmap by default, see the mmapSize rows), the same upsert `INSERT … ON CONFLICT(key) DO UPDATE` writing value, expires_at,' +
    ' updated_at = accessed_at = now (ms), hits = 0, tags and size = UTF-8 bytes of key + JSON, expiry checked in JS, JSON values. Its purge is one `DELETE ... WHERE expires_at <= ?` (drizzle-kv deletes in batches of 1000);' +
    ' its iteration steps one statement (`stmt.iterate()`; drizzle-kv runs one query per 256 rows).',
  `purgeExpired with nothing expired: mean of 100 calls per process; the first call alone: drizzle-kv ${num(med(purgeNone, 'drizzle-kv', 'first'))} ms, raw ${num(med(purgeNone, 'raw', 'first'))} ms. Expiry is simulated with a fake clock, no sleeping.`,
  `Durability: ${k(S.n)} autocommit sets on a fresh file, drizzle-kv \`{ durability: 'full' }\` vs the default 'normal', raw \`synchronous=FULL\` vs NORMAL (WAL both):` +
    ` 'full' costs drizzle-kv ${num(med(durable, 'drizzle-kv') - med(setNormal, 'drizzle-kv'))} µs more per set, raw ${num(med(durable, 'raw') - med(setNormal, 'raw'))} µs (an fsync of the WAL per commit).`,
  'scache hit: drizzle-kv `scache({ store })(function add(a, b) { return { sum: a + b, c: \'x\' }; })`, one call to fill, then N calls `add(1, 2)` timed.' +
    ' Raw: the floor of a persistent memoizer on the raw table: `JSON.stringify(args)`, `createHash(\'sha256\')` hex, one prepared' +
    ' `SELECT value, expires_at FROM t WHERE key = ?`, the expiry check, `JSON.parse` (drizzle-kv adds typed canonical argument encoding, key validation and the `{ value }` entry wrapper).',
  `RSS growth: peak over the iteration minus the start, from /proc/self/status; VmRSS counts file-backed pages of a memory-mapped database (drizzle-kv maps nothing by default, mmapSize 0; raw has no mmap, except on the \`… raw with mmap_size 512 MiB\` line),` +
    ` so reading a file of ${num(fileMB('drizzle-kv'))} MB (raw's: ${num(fileMB('raw'))} MB) through mmap maps it into RSS. Those pages are the OS page cache, shared and reclaimable, not heap.`,
  `mmapSize rows: a store of ${k(LARGE)} keys whose values carry a 100-character \`pad\` besides the usual fields (151 bytes of JSON), a file of ${num(largeMB('drizzle-kv'))} MB (raw's: ${num(largeMB('raw'))} MB),` +
    ` opened by each system with mmap off (drizzle-kv \`new KVStore(path, { mmapSize: 0 })\`, the default; raw \`mmap_size = 0\`) and with \`mmapSize: ${MMAP_SIZE}\` (raw \`mmap_size = ${MMAP_SIZE}\`), raw with drizzle-kv's 128 MiB cache_size.` +
    ' Each process starts with an empty SQLite page cache and a warm OS page cache (the fixture was just written); gets read N keys in the scattered order, entries() is one full scan per process.' +
    ' "cost of the default" = time with mmap off / time with mmap on (above 1: the default is slower). With mmap, a process dies of SIGBUS if another one truncates the file under it (tests/reliability/sigbus.test.ts).',
  `Cold process: median of ${S.coldRuns} \`node -e\` runs per repetition, spawn to exit; \`node -e 0\` alone takes ${num(med(cold, 'node'))} ms.` +
    ` Inside the child (performance.now(), ms, medians): drizzle-kv ${coldSplit('drizzle-kv')}; raw ${coldSplit('raw')}.`,
];
const facts = [
  `node ${process.version}; ${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length} cores; ${os.platform()} ${os.release()}`,
  `SQLite ${sqliteVersion}; better-sqlite3 ${pkg(join(ROOT, 'node_modules/better-sqlite3'))}; drizzle-orm ${pkg(join(ROOT, 'node_modules/drizzle-orm'))};` +
    ` keyv ${pkg(join(deps, 'keyv'))}; @keyv/sqlite ${pkg(join(deps, '@keyv/sqlite'))} (sqlite3 ${pkg(join(deps, 'sqlite3'))})`,
  `drizzle-kv ${pkg(ROOT)} (entry ${relative(ROOT, BUILT)}, built ${build.at}); HEAD ${build.commit} (the working tree may differ)`,
  `command: \`node ${relative(process.cwd(), process.argv[1])}${args.length ? ` ${args.join(' ')}` : ''}\`; started ${build.date}; took ${seconds.toFixed(0)} s;` +
    ` 1-min load average ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end`,
];

const markdown = [
  `## drizzle-kv benchmark${quick ? ' (--quick)' : ''}`,
  '',
  ...lines,
  '',
  ...notes.map((n) => `- ${n}`),
  '',
  ...engines.markdown(),
  '**Machine**',
  '',
  ...facts.map((f) => `- ${f}`),
  '',
].join('\n');
process.stdout.write(markdown);
if (outFile) writeFileSync(outFile, markdown);
if (svgFile) {
  const sqliteRows = cells.filter(([r]) => r.target?.max).map(([r, c]) => ({ label: r.label, ratio: c.ratio, target: r.target.max, ok: c.ratio <= r.target.max }));
  const svg = ratioChart(
    [
      { title: 'SQLite: drizzle-kv KVStore / raw better-sqlite3 (same table, same SQL)', rows: sqliteRows },
      { title: 'Engines: drizzle-kv/pg, /libsql, /sqlite / their baselines', rows: engines.chartRows() },
    ],
    {
      title: `drizzle-kv benchmark${quick ? ' (--quick: smoke test, not for the targets)' : ''}: ratio to the baseline, medians of ${S.reps} fresh process${S.reps > 1 ? 'es' : ''}`,
      subtitle: `${build.date.slice(0, 16).replace('T', ' ')} UTC · HEAD ${build.commit} · node ${process.version} · ${cpus.length} cores · 1-min load average ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end · ${seconds.toFixed(0)} s`,
    },
  );
  writeFileSync(svgFile, svg);
}
