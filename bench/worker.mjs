// One measurement in a fresh process: node bench/worker.mjs <workload> <system> '<json params>'
// Prints one JSON line: { value, unit, ...extra }.
//
// Each system is an adapter with the same methods, so every workload below is
// one loop shared by all systems: the harness costs each of them the same.
// A fresh process per measurement keeps one system's garbage, JIT state and
// SQLite page cache from leaking into the next.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import {
  DEPS, DIST, PURGE_T0, PURGE_T1, RAW_SCHEMA, RAW_UPSERT, TTL_SECONDS, VALUE,
  assertBuilt, expiresInPurgeFixture, key, median, missKey, readKey,
} from './dataset.mjs';

const require = createRequire(import.meta.url);
const RAW_DRIVER = require.resolve('better-sqlite3');

// Every adapter: (file, clock = Date, { durability: 'normal' | 'full', mmap: boolean, mmapSize: number } = {}).
const systems = {
  // `mmapSize`: passed to the store as is (undefined: the default, no memory-mapped I/O).
  // `limits`: set on the store (recorded in its file) before the workload.
  'drizzle-kv'(file, clock = Date, { durability, mmapSize, limits } = {}) {
    assertBuilt();
    const { KVStore, scache } = require(DIST);
    const s = new KVStore(file, {
      clock,
      ...(durability === undefined ? {} : { durability }),
      ...(mmapSize === undefined ? {} : { mmapSize }),
    });
    if (limits !== undefined) s.setLimits(limits);
    return {
      stats: () => s.stats(),
      set: (k, v, ttl) => s.set(k, v, ttl),
      get: (k) => s.get(k),
      setMany: (entries, ttl) => s.setMany(entries, ttl),
      keys: () => s.keys(),
      entries: () => s.entries(),
      purge: () => s.purgeExpired(),
      memoize: (fn) => scache({ store: s })(fn),
      close: () => s.close(),
    };
  },

  // What a careful hand-written store on better-sqlite3 does: same table, same
  // upsert (updated_at and size included), statements prepared once, JSON
  // values, expiry checked in JS.
  // `mmap`: a 128 MiB page cache and 512 MiB mmap (drizzle-kv's settings before mmap became opt-in), for the RSS comparison.
  // `mmapSize`: drizzle-kv's 128 MiB page cache and that mmap_size (0: none), for the mmap rows:
  // both systems then differ from each other only in the library, and within a system only in mmap.
  raw(file, clock = Date, { durability = 'normal', mmap = false, mmapSize } = {}) {
    const Database = require(RAW_DRIVER);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma(durability === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
    if (mmap) {
      db.pragma('cache_size = -131072');
      db.pragma('mmap_size = 536870912');
    }
    if (mmapSize !== undefined) {
      db.pragma('cache_size = -131072');
      db.pragma(`mmap_size = ${mmapSize}`);
    }
    db.exec(RAW_SCHEMA);
    const live = '(expires_at IS NULL OR expires_at > ?)';
    const upsert = db.prepare(RAW_UPSERT);
    /** One row, written at `now`: updated_at = now, size = UTF-8 bytes of key and JSON. */
    const write = (k, v, exp, now) => {
      const json = JSON.stringify(v);
      upsert.run(k, json, exp, now, Buffer.byteLength(k) + Buffer.byteLength(json), now);
    };
    const read = db.prepare('SELECT value, expires_at FROM t WHERE key = ?');
    const keys = db.prepare(`SELECT key FROM t WHERE ${live} ORDER BY key`).pluck();
    const rows = db.prepare(`SELECT key, value FROM t WHERE ${live} ORDER BY key`).raw();
    // One statement: the plain way to purge (drizzle-kv deletes in batches of 1000 to keep the lock short).
    const purge = db.prepare('DELETE FROM t WHERE expires_at <= ?');
    const expiry = (ttl, now) => (ttl === undefined ? null : now + Math.ceil(ttl * 1000));
    const set = (k, v, ttl) => {
      const now = clock.now();
      write(k, v, expiry(ttl, now), now);
    };
    const many = db.transaction((entries, ttl) => {
      const now = clock.now();
      const exp = expiry(ttl, now);
      for (const [k, v] of entries) write(k, v, exp, now);
    });
    return {
      set,
      get(k) {
        const r = read.get(k);
        if (r === undefined || (r.expires_at !== null && r.expires_at <= clock.now())) return undefined;
        return JSON.parse(r.value);
      },
      setMany: (entries, ttl) => many.immediate(entries, ttl),
      keys: () => keys.all(clock.now()),
      // One statement stepped lazily (drizzle-kv instead runs one query per 256 rows, holding nothing open).
      *entries() {
        for (const [k, v] of rows.iterate(clock.now())) yield [k, JSON.parse(v)];
      },
      purge: () => purge.run(clock.now()).changes,
      // The floor of a persistent memoizer: JSON of the arguments, its SHA-256, one
      // prepared read, the expiry check, JSON.parse. No type tags, no entry wrapper.
      memoize(fn) {
        const { createHash } = require('node:crypto');
        const prefix = `scache:${fn.name}:`;
        return (...args) => {
          const k = prefix + createHash('sha256').update(JSON.stringify(args)).digest('hex');
          const r = read.get(k);
          if (r !== undefined && (r.expires_at === null || r.expires_at > clock.now())) return JSON.parse(r.value);
          const result = fn(...args);
          set(k, result);
          return result;
        };
      },
      close: () => db.close(),
    };
  },

  // Keyv with its SQLite adapter as users get it by default (its rollback
  // journal, no WAL). Async: every operation is awaited.
  keyv(file) {
    const deps = createRequire(DEPS);
    const { Keyv } = deps('keyv');
    const { KeyvSqlite } = deps('@keyv/sqlite');
    const kv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}` }) });
    return {
      async: true,
      set: (k, v, ttl) => kv.set(k, v, ttl === undefined ? undefined : ttl * 1000),
      get: (k) => kv.get(k),
      close: () => kv.disconnect(),
    };
  },
};

/**
 * What a cold CLI process runs for each system (node -e), timed from spawn to
 * exit. Inside, performance.now() (ms since the process started) splits it:
 * boot = node's own start-up until the script's first line, then require,
 * open, the first get (preparing its statement included) and close; printed
 * as one JSON line.
 */
const coldScripts = {
  'drizzle-kv': (file) =>
    `const t0 = performance.now();
     const { KVStore } = require(${JSON.stringify(DIST)});
     const t1 = performance.now();
     const s = new KVStore(${JSON.stringify(file)});
     const t2 = performance.now();
     if (s.get('user:1') === undefined) process.exit(3);
     const t3 = performance.now();
     s.close();
     const t4 = performance.now();
     console.log(JSON.stringify({ boot: t0, require: t1 - t0, open: t2 - t1, get: t3 - t2, close: t4 - t3 }));`,
  raw: (file) =>
    `const t0 = performance.now();
     const Database = require(${JSON.stringify(RAW_DRIVER)});
     const t1 = performance.now();
     const db = new Database(${JSON.stringify(file)});
     db.pragma('journal_mode = WAL');
     db.pragma('synchronous = NORMAL');
     const t2 = performance.now();
     const r = db.prepare('SELECT value, expires_at FROM t WHERE key = ?').get('user:1');
     if (r === undefined || (r.expires_at !== null && r.expires_at <= Date.now())) process.exit(3);
     JSON.parse(r.value);
     const t3 = performance.now();
     db.close();
     const t4 = performance.now();
     console.log(JSON.stringify({ boot: t0, require: t1 - t0, open: t2 - t1, get: t3 - t2, close: t4 - t3 }));`,
  // The floor: starting node itself.
  node: () => '0',
};
/** The phases the cold scripts report (ms). */
const COLD_PHASES = ['boot', 'require', 'open', 'get', 'close'];

const elapsedMs = (t0) => performance.now() - t0;
const fixedClock = (t) => ({ now: () => t });

/** The adapter options of a workload's `p.limits` (drizzle-kv's limit rows). */
const limitsOption = (p) => (p.limits === undefined ? {} : { limits: p.limits });

/** The adapter options of a workload's `p.mmapSize` (the mmap rows); none for the other rows. */
const mmapOption = (p) => (p.mmapSize === undefined ? {} : { mmapSize: p.mmapSize });

/** Three (or `p.scans`) timed calls of `scan(store)`, which must count `p.size` items; the median, in ms. */
function timedScans(open, p, what, scan) {
  const s = open(p.file, undefined, mmapOption(p));
  const times = Array.from({ length: p.scans ?? 3 }, () => {
    const t0 = performance.now();
    const n = scan(s);
    const ms = elapsedMs(t0);
    if (n !== p.size) throw new Error(`expected ${p.size} ${what}, got ${n}`);
    return ms;
  });
  s.close();
  return { value: median(times), unit: 'ms' };
}

/**
 * The value of the 'wide' fixture: VALUE and 100 characters more (151 bytes of JSON), so that 1M keys make a
 * file (about 200 MB) larger than drizzle-kv's 128 MiB page cache: reads keep going to the file.
 */
const WIDE_VALUE = { ...VALUE, pad: 'p'.repeat(100) };

/** The values of `i` in [0, n) in chunks, as [key, value] pairs: fixtures are loaded with setMany. */
function* chunks(n, pick = () => true, size = 10_000, value = VALUE) {
  for (let lo = 0; lo < n; lo += size) {
    const chunk = [];
    for (let i = lo; i < Math.min(n, lo + size); i++) if (pick(i)) chunk.push([key(i), value]);
    yield chunk;
  }
}

/** Resident memory from /proc: anonymous (heap, SQLite's page cache) and file-backed (mmap'd database pages). */
function memory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

function removeDb(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

const workloads = {
  /**
   * Builds a fixture file of `size` keys; 'purge' gives every 10th key a TTL at the fake time PURGE_T0,
   * 'wide' writes WIDE_VALUE instead of VALUE.
   */
  async load(open, p) {
    const s = await open(p.file, fixedClock(PURGE_T0));
    const t0 = performance.now();
    if (s.async) {
      for (let i = 0; i < p.size; i++) await s.set(key(i), VALUE);
    } else if (p.kind === 'purge') {
      for (const c of chunks(p.size, expiresInPurgeFixture)) s.setMany(c, TTL_SECONDS);
      for (const c of chunks(p.size, (i) => !expiresInPurgeFixture(i))) s.setMany(c);
    } else {
      for (const c of chunks(p.size, undefined, undefined, p.kind === 'wide' ? WIDE_VALUE : VALUE)) s.setMany(c);
    }
    const ms = elapsedMs(t0);
    await s.close(); // the last connection checkpoints the WAL: the fixture is one self-contained file
    return { value: ms, unit: 'ms' };
  },

  /** `p.durability`: 'full' opens drizzle-kv with { durability: 'full' } and raw with synchronous=FULL. */
  async set(open, p) {
    const s = await open(p.file, undefined, { ...(p.durability === undefined ? {} : { durability: p.durability }), ...limitsOption(p) });
    const ttl = p.ttl ?? undefined;
    const t0 = performance.now();
    if (s.async) for (let i = 0; i < p.n; i++) await s.set(key(i), VALUE, ttl);
    else for (let i = 0; i < p.n; i++) s.set(key(i), VALUE, ttl);
    const ms = elapsedMs(t0);
    await s.close();
    removeDb(p.file);
    return { value: (ms * 1000) / p.n, unit: 'µs/op' };
  },

  /** `p.fixture`: read a copy of it (a row that sets limits must not change a fixture other rows read). */
  async 'get-hit'(open, p) {
    if (p.fixture !== undefined) copyFileSync(p.fixture, p.file);
    const s = await open(p.file, undefined, { ...mmapOption(p), ...limitsOption(p) });
    let hits = 0;
    const t0 = performance.now();
    if (s.async) for (let i = 0; i < p.n; i++) hits += (await s.get(readKey(i, p.size))) === undefined ? 0 : 1;
    else for (let i = 0; i < p.n; i++) hits += s.get(readKey(i, p.size)) === undefined ? 0 : 1;
    const ms = elapsedMs(t0);
    await s.close();
    if (hits !== p.n) throw new Error(`expected ${p.n} hits, got ${hits}`);
    return { value: (ms * 1000) / p.n, unit: 'µs/op' };
  },

  /**
   * A store kept at its limit while `p.n` entries of ~100 bytes are written: every write past the first
   * `p.maxBytes` evicts. Reports the worst single write (and the 99.9th percentile), the most bytes the store
   * held after any write (its counters), and the largest size of its files (database + WAL) seen every 1000 writes.
   */
  'at-limit'(open, p) {
    const s = open(p.file, undefined, { limits: { maxBytes: p.maxBytes } });
    const value = { ...VALUE, pad: 'x'.repeat(40) };
    const times = new Float64Array(p.n);
    let maxHeld = 0;
    let maxFile = 0;
    const fileSize = () => ['', '-wal'].reduce((n, suffix) => n + (existsSync(p.file + suffix) ? statSync(p.file + suffix).size : 0), 0);
    const t0 = performance.now();
    for (let i = 0; i < p.n; i++) {
      const t = performance.now();
      s.set(key(i), value);
      times[i] = performance.now() - t;
      if (i % 1000 === 999) {
        maxHeld = Math.max(maxHeld, s.stats().bytes);
        maxFile = Math.max(maxFile, fileSize());
      }
    }
    const ms = elapsedMs(t0);
    const stats = s.stats();
    s.close();
    const sorted = Array.from(times).sort((a, b) => a - b);
    removeDb(p.file);
    return {
      value: sorted[sorted.length - 1] * 1000,
      unit: 'µs',
      p999: sorted[Math.floor(sorted.length * 0.999)] * 1000,
      median: sorted[Math.floor(sorted.length / 2)] * 1000,
      mean: (ms * 1000) / p.n,
      maxHeld,
      maxFile,
      evictions: stats.evictions,
      entries: stats.entries,
    };
  },

  async 'get-miss'(open, p) {
    const s = await open(p.file);
    let hits = 0;
    const t0 = performance.now();
    if (s.async) for (let i = 0; i < p.n; i++) hits += (await s.get(missKey(i))) === undefined ? 0 : 1;
    else for (let i = 0; i < p.n; i++) hits += s.get(missKey(i)) === undefined ? 0 : 1;
    const ms = elapsedMs(t0);
    await s.close();
    if (hits !== 0) throw new Error(`expected no hits, got ${hits}`);
    return { value: (ms * 1000) / p.n, unit: 'µs/op' };
  },

  /**
   * A memoized `add(1, 2)`: one call fills the cache, then N calls with the same
   * arguments are timed. The function must run exactly once.
   */
  'scache-hit'(open, p) {
    const s = open(p.file);
    let calls = 0;
    const f = s.memoize(function add(a, b) {
      calls++;
      return { sum: a + b, c: 'x' };
    });
    f(1, 2);
    let sum = 0;
    const t0 = performance.now();
    for (let i = 0; i < p.n; i++) sum += f(1, 2).sum;
    const ms = elapsedMs(t0);
    s.close();
    removeDb(p.file);
    if (calls !== 1 || sum !== 3 * p.n) throw new Error(`expected 1 call and ${p.n} hits, got ${calls} calls, sum ${sum}`);
    return { value: (ms * 1000) / p.n, unit: 'µs/call' };
  },

  'set-many'(open, p) {
    const s = open(p.file);
    const entries = Array.from({ length: p.n }, (_, i) => [key(i), VALUE]);
    // One small batch first, on both systems: raw prepares its statements before timing, and
    // drizzle-kv prepares each on first use; this way neither pays preparation in the timed call.
    s.setMany([['warm-up', VALUE]]);
    const t0 = performance.now();
    s.setMany(entries);
    const ms = elapsedMs(t0);
    s.close();
    removeDb(p.file);
    return { value: ms, unit: 'ms' };
  },

  // keys() and entries() take milliseconds: three calls, the median.
  keys: (open, p) => timedScans(open, p, 'keys', (s) => s.keys().length),
  entries: (open, p) =>
    timedScans(open, p, 'entries', (s) => {
      let n = 0;
      for (const entry of s.entries()) n += entry[1] === undefined ? 0 : 1;
      return n;
    }),

  /** On a copy of the purge fixture, at a fake time when nothing (PURGE_T0) or 10% (PURGE_T1) has expired. */
  purge(open, p) {
    copyFileSync(p.fixture, p.file);
    const s = open(p.file, fixedClock(p.expired ? PURGE_T1 : PURGE_T0));
    const calls = p.expired ? 1 : 100; // finding nothing is idempotent: average many calls
    const expected = p.expired ? p.size / 10 : 0;
    let first;
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const n = s.purge();
      if (n !== (i === 0 ? expected : 0)) throw new Error(`purge ${i}: expected ${expected} rows, got ${n}`);
      first ??= elapsedMs(t0);
    }
    const ms = elapsedMs(t0);
    s.close();
    removeDb(p.file);
    return { value: ms / calls, unit: p.expired ? 'ms' : 'ms/call', first };
  },

  /**
   * Wall-clock of whole `node -e` processes: spawn, require, open, one get, close, exit.
   * Also the median of each phase the script reports (see coldScripts).
   */
  cold(_open, p, system) {
    const code = coldScripts[system](p.file);
    const times = [];
    const phases = [];
    for (let i = 0; i < p.runs; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
      times.push(elapsedMs(t0));
      if (r.status !== 0) throw new Error(`cold ${system} exited ${r.status}: ${r.stderr}`);
      if (system !== 'node') phases.push(JSON.parse(r.stdout.trim()));
    }
    const split = phases.length === 0 ? {} : Object.fromEntries(COLD_PHASES.map((f) => [f, median(phases.map((x) => x[f]))]));
    return { value: median(times), unit: 'ms', ...split };
  },

  /** Peak resident-memory growth over a full entries() iteration, sampled every 4096 entries. */
  rss(open, p) {
    const s = open(p.file, undefined, p.mmap ? { mmap: true } : {});
    globalThis.gc?.();
    const base = memory();
    let peak = { rss: 0, anon: 0, file: 0 };
    let n = 0;
    for (const entry of s.entries()) {
      if (entry[1] === undefined) throw new Error('undefined value');
      if (++n % 4096 === 0) {
        const m = memory();
        peak = { rss: Math.max(peak.rss, m.rss), anon: Math.max(peak.anon, m.anon), file: Math.max(peak.file, m.file) };
      }
    }
    s.close();
    if (n !== p.size) throw new Error(`expected ${p.size} entries, got ${n}`);
    const grow = (f) => Math.max(0, peak[f] - base[f]);
    return { value: grow('rss'), unit: 'MB', anon: grow('anon'), file: grow('file') };
  },
};

const [workload, system, json = '{}'] = process.argv.slice(2);
if (!workloads[workload] || !(systems[system] || workload === 'cold')) {
  console.error(`usage: node bench/worker.mjs <${Object.keys(workloads).join('|')}> <${Object.keys(systems).join('|')}> '<json>'`);
  process.exit(2);
}
const open = systems[system];
const result = await workloads[workload](open, JSON.parse(json), system);
console.log(JSON.stringify(result));
