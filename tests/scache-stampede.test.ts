/**
 * scache's `lease` option with real processes (tests/children/stampede-caller.cjs, on the built
 * package): of many processes missing one key at once, one computes and the others get its result;
 * a holder killed mid-computation delays the others only until its lease expires; no caller waits
 * past its timeout; an async waiter keeps its event loop running. Also: how the new options
 * (`lease`, `staleWhileRevalidate`, `clock`) refuse bad values. The per-backend behaviour (stats,
 * stale-while-revalidate, leases in one process) is in tests/contract/scache-contract.ts.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { KVRangeError, KVStore, KVTypeError, type MemoStore, scache } from '../src';
import type * as PgEntry from '../src/pg';
import { builtEntry, root } from './built';
import { tempDir, thrown } from './helpers';
import { pgSchemas, pgUrl, uniqueName } from './servers';

const CHILD = join(__dirname, 'children', 'stampede-caller.cjs');

/** What a child is told to do (see the child's header). */
interface CallerConfig {
  engine: 'sqlite' | 'sqlite-async' | 'pg';
  path?: string;
  url?: string;
  pgSchema?: string;
  table: string;
  name: string;
  lease: number | { ttl: number; timeout?: number };
  fn: 'sync' | 'async';
  workMs: number;
  marker: string;
  arg: string;
}

interface Report {
  pid: number;
  value?: { arg: string; by: number };
  ms: number;
  ticks: number;
  stats: { hits: number; misses: number; stale: number; computed: number; waited: number };
  error?: string;
}

interface Caller {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the first line, printed before or later, that `match` accepts; rejects if the child ends first. */
  line(match: (line: string) => boolean, what: string): Promise<string>;
  /** Sends "go". */
  go(): void;
  /** The JSON report the child prints at the end. */
  report(): Promise<Report>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Caller[] = [];

function startCaller(config: CallerConfig): Caller {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], {
    env: {
      ...process.env,
      DRIZZLE_KV_ENTRY: builtEntry(),
      DRIZZLE_KV_SQLITE_ENTRY: join(root, 'dist/sqlite.cjs'),
      DRIZZLE_KV_PG_ENTRY: join(root, 'dist/pg.cjs'),
    },
  });
  const seen: string[] = [];
  const waiting = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void; reject: (err: Error) => void; what: string }>();
  let buffered = '';
  let stderr = '';
  let ended: string | undefined;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      seen.push(line);
      for (const w of waiting) {
        if (w.match(line)) {
          waiting.delete(w);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      ended = `child ${child.pid} ended (code ${code}, signal ${signal}); it printed ${JSON.stringify(seen)}; stderr: ${stderr.slice(0, 2000)}`;
      for (const w of waiting) w.reject(new Error(`waiting for ${w.what}: ${ended}`));
      waiting.clear();
      resolve({ code, signal });
    });
  });
  const line = (match: (line: string) => boolean, what: string): Promise<string> => {
    const found = seen.find(match);
    if (found !== undefined) return Promise.resolve(found);
    if (ended !== undefined) return Promise.reject(new Error(`waiting for ${what}: ${ended}`));
    return new Promise((resolve, reject) => waiting.add({ match, resolve, reject, what }));
  };
  const caller: Caller = {
    child,
    line,
    go: () => child.stdin.end('go\n'),
    report: async () => JSON.parse(await line((l) => l.startsWith('{'), 'the report')) as Report,
    exited,
  };
  started.push(caller);
  return caller;
}

afterEach(async () => {
  // A failed test may leave a child computing for a minute: end the ones this file started.
  for (const caller of started.splice(0)) {
    if (caller.child.exitCode === null && caller.child.signalCode === null) caller.child.kill('SIGKILL');
    await caller.exited;
  }
});

/** The pids the marker file lists, one per run of the function, in order. */
const runs = (marker: string): number[] =>
  readFileSync(marker, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(Number);

const sum = (reports: Report[], field: keyof Report['stats']): number => reports.reduce((n, r) => n + r.stats[field], 0);

/** Starts `n` callers, waits until each is ready, and lets them all go at once. Resolves with their reports. */
async function stampede(n: number, config: CallerConfig): Promise<Report[]> {
  const callers = Array.from({ length: n }, () => startCaller(config));
  await Promise.all(callers.map((c) => c.line((l) => l === 'ready', '"ready"')));
  for (const c of callers) c.go();
  return Promise.all(callers.map((c) => c.report()));
}

/** Checks a stampede: one run, its result everywhere, the others waited (or came late and hit). */
function expectOneRun(reports: Report[], marker: string): number {
  expect(reports.filter((r) => r.error !== undefined)).toEqual([]);
  const ran = runs(marker);
  expect(ran).toHaveLength(1);
  const holder = ran[0] as number;
  for (const r of reports) expect(r.value).toEqual({ arg: 'x', by: holder });
  expect(sum(reports, 'computed')).toBe(1);
  for (const r of reports.filter((r) => r.pid !== holder)) expect(r.stats.waited + r.stats.hits).toBe(1);
  expect(sum(reports, 'waited')).toBeGreaterThan(0);
  return holder;
}

describe('scache lease across processes', () => {
  it.each([
    ['a sync function on the sync KVStore (waits block)', 'sqlite', 'sync'],
    ['an async function on drizzle-kv/sqlite (waits on timers)', 'sqlite-async', 'async'],
  ] as const)('8 processes missing one key at once on one SQLite file: %s runs once, and all 8 get its result', async (_title, engine, fn) => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    const marker = join(dir, 'runs.txt');
    new KVStore(path, 'stampede').close(); // created here: the children only open it
    const reports = await stampede(8, { engine, path, table: 'stampede', name: 'slow', lease: 30, fn, workMs: 1500, marker, arg: 'x' });
    const holder = expectOneRun(reports, marker);
    if (fn === 'sync') {
      // A sync function's caller must get its value from within the call: its event loop stood still.
      for (const r of reports) expect(r.ticks).toBe(0);
    } else {
      for (const r of reports.filter((r) => r.pid !== holder && r.stats.waited === 1)) expect(r.ticks).toBeGreaterThan(10);
    }
    const store = new KVStore(path, 'stampede');
    try {
      expect(store.keys({ prefix: 'scache-lease:' })).toEqual([]); // released
      expect(store.keys({ prefix: 'scache:slow:' })).toHaveLength(1);
    } finally {
      store.close();
    }
  });

  describe('on PostgreSQL', () => {
    const schemas = pgSchemas('kvstamp');
    afterAll(() => schemas.dropAll());

    (pgUrl() ? it : it.skip)('8 processes missing one key at once: the function runs once, and all 8 get its result', async () => {
      const url = pgUrl() as string;
      const pgSchema = schemas.fresh();
      const table = uniqueName('stampede');
      const marker = join(tempDir(), 'runs.txt');
      const { openStore } = require(join(root, 'dist/pg.cjs')) as typeof PgEntry;
      const store = await openStore(url, { pgSchema, table }); // created here: the children only open it
      try {
        const reports = await stampede(8, { engine: 'pg', url, pgSchema, table, name: 'slow', lease: 30, fn: 'async', workMs: 1500, marker, arg: 'x' });
        expectOneRun(reports, marker);
        expect(await store.keys({ prefix: 'scache-lease:' })).toEqual([]);
        expect(await store.keys({ prefix: 'scache:slow:' })).toHaveLength(1);
      } finally {
        await store.close();
      }
    });
  });

  it('a holder SIGKILLed mid-computation: another process computes once its lease expires, and every caller returns', async () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    const marker = join(dir, 'runs.txt');
    new KVStore(path, 'crash').close();
    const base = { engine: 'sqlite', path, table: 'crash', name: 'slow', lease: { ttl: 2, timeout: 60 }, fn: 'sync', marker, arg: 'x' } as const;
    const holder = startCaller({ ...base, workMs: 60_000 });
    await holder.line((l) => l === 'ready', '"ready"');
    holder.go();
    await holder.line((l) => l === 'computing', 'the holder to compute');
    const tookLease = Date.now();
    const waiters = Array.from({ length: 3 }, () => startCaller({ ...base, workMs: 300 }));
    await Promise.all(waiters.map((c) => c.line((l) => l === 'ready', '"ready"')));
    for (const c of waiters) c.go();
    await sleep(200); // they are waiting, blocked in their sync calls
    holder.child.kill('SIGKILL');
    expect((await holder.exited).signal).toBe('SIGKILL');
    const reports = await Promise.all(waiters.map((c) => c.report()));
    expect(reports.filter((r) => r.error !== undefined)).toEqual([]);
    const ran = runs(marker);
    expect(ran).toHaveLength(2); // the holder's unfinished run, and one more
    expect(ran[0]).toBe(holder.child.pid);
    const taker = ran[1] as number;
    expect(waiters.map((c) => c.child.pid)).toContain(taker);
    for (const r of reports) {
      expect(r.value).toEqual({ arg: 'x', by: taker });
      expect(r.stats.waited).toBe(1);
      expect(r.ms).toBeLessThan(15_000); // coarse: the lease lives 2 s, the run 0.3 s
    }
    expect(sum(reports, 'computed')).toBe(1);
    // Nobody got the result before the dead holder's lease could expire.
    expect(Date.now() - tookLease).toBeGreaterThanOrEqual(1900);
  });

  it('a holder that hangs: every waiter computes itself past its timeout, so none waits forever', async () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    const marker = join(dir, 'runs.txt');
    new KVStore(path, 'hang').close();
    const base = { engine: 'sqlite', path, table: 'hang', name: 'slow', lease: { ttl: 600, timeout: 1 }, marker, arg: 'x' } as const;
    const holder = startCaller({ ...base, fn: 'sync', workMs: 60_000 });
    await holder.line((l) => l === 'ready', '"ready"');
    holder.go();
    await holder.line((l) => l === 'computing', 'the holder to compute');
    const waiters = [startCaller({ ...base, fn: 'sync', workMs: 200 }), startCaller({ ...base, fn: 'async', workMs: 200 })];
    const reports = await (async () => {
      await Promise.all(waiters.map((c) => c.line((l) => l === 'ready', '"ready"')));
      for (const c of waiters) c.go();
      return Promise.all(waiters.map((c) => c.report()));
    })();
    expect(reports.filter((r) => r.error !== undefined)).toEqual([]);
    const pids = waiters.map((c) => c.child.pid);
    for (const r of reports) {
      expect(pids).toContain(r.value?.by); // a waiter's result, not the hung holder's
      expect(r.stats.waited).toBe(1);
      expect(r.ms).toBeGreaterThanOrEqual(950);
      expect(r.ms).toBeLessThan(10_000);
    }
    expect(runs(marker).length).toBeGreaterThanOrEqual(2);
    holder.child.kill('SIGKILL');
  });

  it.each([
    ['drizzle-kv/sqlite', 'sqlite-async'],
    ['the sync KVStore, for an async function', 'sqlite'],
  ] as const)('an async caller waiting for a lease keeps its event loop running (%s)', async (_title, engine) => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    const marker = join(dir, 'runs.txt');
    new KVStore(path, 'loop').close();
    const base = { engine, path, table: 'loop', name: 'slow', lease: 30, fn: 'async', marker, arg: 'x' } as const;
    const holder = startCaller({ ...base, workMs: 1500 });
    await holder.line((l) => l === 'ready', '"ready"');
    holder.go();
    await holder.line((l) => l === 'computing', 'the holder to compute');
    const waiter = startCaller({ ...base, workMs: 1500 });
    await waiter.line((l) => l === 'ready', '"ready"');
    waiter.go();
    const [held, waited] = await Promise.all([holder.report(), waiter.report()]);
    expect(waited.value).toEqual({ arg: 'x', by: holder.child.pid });
    expect(waited.value).toEqual(held.value);
    expect(waited.stats).toMatchObject({ waited: 1, computed: 0 });
    expect(runs(marker)).toEqual([holder.child.pid]);
    // The 10 ms interval ticked on while it waited (a blocked loop would count none).
    expect(waited.ms).toBeGreaterThan(300);
    expect(waited.ticks).toBeGreaterThanOrEqual(Math.floor(waited.ms / 10 / 4));
  });
});

describe('scache options lease, staleWhileRevalidate and clock', () => {
  let store: KVStore;
  beforeEach(() => {
    store = new KVStore(':memory:');
  });
  afterEach(() => store.close());

  const refused: [object, typeof KVTypeError | typeof KVRangeError, string][] = [
    [{ lease: 0 }, KVRangeError, 'lease'],
    [{ lease: -1 }, KVRangeError, 'lease'],
    [{ lease: NaN }, KVRangeError, 'lease'],
    [{ lease: Infinity }, KVRangeError, 'lease'],
    [{ lease: 2_147_484 }, KVRangeError, 'lease'],
    [{ lease: '5' }, KVTypeError, 'lease'],
    [{ lease: null }, KVTypeError, 'lease'],
    [{ lease: [5] }, KVTypeError, 'lease'],
    [{ lease: true }, KVTypeError, 'lease'],
    [{ lease: {} }, KVTypeError, 'lease.ttl'],
    [{ lease: { ttl: 0 } }, KVRangeError, 'lease.ttl'],
    [{ lease: { ttl: 1, timeout: 0 } }, KVRangeError, 'lease.timeout'],
    [{ lease: { ttl: 1, timeout: Infinity } }, KVRangeError, 'lease.timeout'],
    [{ lease: { ttl: 1, timeout: '2' } }, KVTypeError, 'lease.timeout'],
    [{ lease: { ttl: 1, wait: 2 } }, KVTypeError, 'wait'],
    [{ staleWhileRevalidate: 10 }, KVTypeError, 'staleWhileRevalidate'],
    [{ ttl: Infinity, staleWhileRevalidate: 10 }, KVTypeError, 'staleWhileRevalidate'],
    [{ ttl: 10, staleWhileRevalidate: 0 }, KVRangeError, 'staleWhileRevalidate'],
    [{ ttl: 10, staleWhileRevalidate: -5 }, KVRangeError, 'staleWhileRevalidate'],
    [{ ttl: 10, staleWhileRevalidate: NaN }, KVRangeError, 'staleWhileRevalidate'],
    [{ ttl: 10, staleWhileRevalidate: '60' }, KVTypeError, 'staleWhileRevalidate'],
    [{ ttl: 10, staleWhileRevalidate: 1e300 }, KVRangeError, 'staleWhileRevalidate'],
    [{ clock: {} }, KVTypeError, 'clock'],
    [{ clock: 5 }, KVTypeError, 'clock'],
    [{ clock: null }, KVTypeError, 'clock'],
  ];
  const label = (options: object): string => inspect(options, { breakLength: Infinity });
  it.each(refused.map(([options, kind, mentions]) => [label(options), options, kind, mentions] as const))(
    'refuses %s with a typed ERR_KV_INVALID_OPTION when scache() is called',
    (_label, options, kind, mentions) => {
      const err = thrown(() => scache({ store, ...options }));
      expect(err).toBeInstanceOf(kind);
      expect(err.code).toBe('ERR_KV_INVALID_OPTION');
      expect(err.message).toContain(mentions);
    },
  );

  it('refuses a lease on a store without add, delete and transaction', () => {
    const plain: MemoStore = { get: (_key, fallback) => fallback, set: () => {}, clear: () => 0 };
    const err = thrown(() => scache({ store: plain, lease: 5 }));
    expect(err).toBeInstanceOf(KVTypeError);
    expect(err.code).toBe('ERR_KV_INVALID_OPTION');
    expect(err.message).toContain('add, delete, transaction');
    expect(scache({ store: plain })((x: number) => x)(1)).toBe(1); // without a lease, as before
  });

  const accepted: object[] = [
    { lease: 0.5 },
    { lease: { ttl: 1, timeout: 0.1 } },
    { lease: 2_147_483.647 },
    { ttl: 1, staleWhileRevalidate: 0.5 },
    { ttl: 60, staleWhileRevalidate: Infinity, clock: Date },
  ];
  it.each(accepted.map((options) => [label(options), options] as const))('accepts %s', (_label, options) => {
    const cached = scache({ store, name: 'ok', ...options })((x: number) => x * 2);
    expect(cached(2)).toBe(4);
    expect(cached(2)).toBe(4);
    expect(cached.stats()).toEqual({ hits: 1, misses: 1, stale: 0, computed: 1, waited: 0 });
  });

  it('keeps an entry forever under staleWhileRevalidate: Infinity, marking when it stops being fresh', () => {
    const cached = scache({ store, name: 'forever', ttl: 60, staleWhileRevalidate: Infinity, clock: { now: () => 1_000 } })(() => 'v');
    expect(cached()).toBe('v');
    expect(store.ttl(cached.keyFor())).toBe(Infinity);
    expect(store.get(cached.keyFor())).toEqual({ value: 'v', fresh: 61_000 });
  });

  it('reads entries written without staleWhileRevalidate as fresh until the store expires them', () => {
    const plain = scache({ store, name: 'same', ttl: 60 })(() => 'old');
    expect(plain()).toBe('old');
    expect(store.get(plain.keyFor())).toEqual({ value: 'old' }); // the format without the option is unchanged
    const swr = scache({ store, name: 'same', ttl: 60, staleWhileRevalidate: 60, clock: { now: () => Date.now() + 3_600_000 } })(() => 'new');
    expect(swr()).toBe('old');
    expect(swr.stats()).toMatchObject({ hits: 1, stale: 0 });
  });

  it('a wrapper without staleWhileRevalidate treats a stale entry as a miss', () => {
    let now = 0;
    const clock = { now: () => now };
    const swr = scache({ store, name: 'mixed', ttl: 10, staleWhileRevalidate: 60, clock })(() => 'first');
    expect(swr()).toBe('first');
    now = 11_000; // stale on this clock; still in the store (which runs on the real clock)
    const plain = scache({ store, name: 'mixed', ttl: 10, clock })(() => 'second');
    expect(plain()).toBe('second');
    expect(plain.stats()).toMatchObject({ hits: 0, misses: 1, computed: 1 });
  });
});
