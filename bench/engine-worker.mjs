// One engine measurement in a fresh process: node bench/engine-worker.mjs <job> '<json params>'
// Prints one JSON line: { value, unit, ...extra }. Run by bench/engines.mjs (see there for the plan).
//
// Every timed job is one loop over an adapter, shared by the library and its baseline:
// - pg-*: drizzle-kv/pg against raw node-postgres running the SQL text drizzle-kv sends (captured by
//   `pg-setup` from drizzle-kv itself), as named prepared statements, rows as arrays, on the same kind of Pool;
// - libsql-*: drizzle-kv/libsql against raw @libsql/client `execute` of the captured SQL, on the same kind of client;
// - sqlite-*: drizzle-kv/sqlite (async) against the sync KVStore on the same file format.
// Each loop runs a short untimed warm-up first (p.warm ops, on other keys), then p.n timed ops.
import { copyFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DIST, VALUE, key, readKey } from './dataset.mjs';

const require = createRequire(import.meta.url);
/** An entry of the dist/ snapshot the runner copied (dist/pg.cjs, dist/libsql.cjs, dist/sqlite.cjs). */
const entry = (name) => require(join(dirname(DIST), `${name}.cjs`));
const elapsedMs = (t0) => performance.now() - t0;
const warmKey = (i) => `warm:${i}`;
/** The probe key the set-ups write and delete to see which statements drizzle-kv sends. */
const PROBE = 'bench:probe';

function removeDb(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

// ── PostgreSQL ───────────────────────────────────────────────────────────────

/**
 * The Pool both systems run on: one connection (max 1; sequential awaited calls would use one connection of a
 * larger pool anyway). `p.syncCommit` false: the session runs with synchronous_commit = off (set per connection
 * by the startup `options`), so a commit does not wait for the WAL flush; the library's and the driver's work is
 * then what the row measures, not the disk.
 */
function pgPool(p, max = 1) {
  const { Pool } = require('pg');
  const pool = new Pool({
    connectionString: p.url,
    max,
    connectionTimeoutMillis: 5000,
    ...(p.syncCommit ? {} : { options: '-c synchronous_commit=off' }),
  });
  pool.on('error', () => undefined);
  return pool;
}

/** drizzle-kv/pg on an app's pool, or raw node-postgres running `p.sql` (the statements drizzle-kv runs on that table). */
async function pgSystem(system, p) {
  const pool = pgPool(p);
  if (system === 'drizzle-kv') {
    const { openStore } = entry('pg');
    const s = await openStore(pool, { table: p.table, pgSchema: p.schema });
    return {
      set: (k, v) => s.set(k, v),
      get: (k) => s.get(k),
      getMany: (keys) => s.getMany(keys),
      setMany: (entries) => s.setMany(entries),
      close: async () => {
        await s.close();
        await pool.end();
      },
    };
  }
  if (system !== 'raw') throw new Error(`unknown PostgreSQL system ${system}`);
  // openStore connected drizzle-kv's pool before its timed loop; connect raw's too.
  await pool.query('SELECT 1');
  const { set: setText, get: getText } = p.sql;
  return {
    // What drizzle-kv's set binds (checked by pg-setup): key, the JSON as bytes, expires_at, updated_at, size,
    // accessed_at (the write's time) and tags (none).
    async set(k, v) {
      const bytes = Buffer.from(JSON.stringify(v), 'utf8');
      const now = Date.now();
      await pool.query({ name: 'raw_set', text: setText, values: [k, bytes, null, now, Buffer.byteLength(k) + bytes.length, now, null], rowMode: 'array' });
    },
    async get(k) {
      const { rows } = await pool.query({ name: 'raw_get', text: getText, values: [k], rowMode: 'array' });
      const r = rows[0];
      if (r === undefined || (r[1] !== null && Number(r[1]) <= Date.now())) return undefined;
      return JSON.parse(r[0].toString('utf8'));
    },
    close: () => pool.end(),
  };
}

/** Records the queries drizzle-kv sends through `pool` while `fn` runs. */
async function capture(pool, fn) {
  const query = pool.query;
  const log = [];
  pool.query = function (config, values) {
    log.push(typeof config === 'string' ? { text: config, values } : config);
    return query.call(this, config, values);
  };
  try {
    await fn();
  } finally {
    pool.query = query;
  }
  return log;
}

function check(ok, what, seen) {
  if (!ok) {
    throw new Error(
      `drizzle-kv's ${what} is not what bench/engine-worker.mjs's raw adapter runs (update the adapter): ${JSON.stringify(seen)?.slice(0, 600)}`,
    );
  }
}

/** Captures the statements of a store's `set` and `get` (by a set, get and delete of PROBE) and checks their parameters. */
async function pgStatements(pool, s) {
  const writes = await capture(pool, () => s.set(PROBE, VALUE));
  const set = writes.find((q) => /^insert into/i.test(q.text));
  const bytes = Buffer.from(JSON.stringify(VALUE));
  check(
    set !== undefined &&
      set.values.length === 7 &&
      set.values[0] === PROBE &&
      Buffer.isBuffer(set.values[1]) &&
      set.values[1].equals(bytes) &&
      set.values[2] === null &&
      typeof set.values[3] === 'number' &&
      set.values[4] === Buffer.byteLength(PROBE) + bytes.length &&
      set.values[5] === set.values[3] &&
      set.values[6] === null,
    'set statement',
    writes,
  );
  const reads = await capture(pool, () => s.get(PROBE));
  const get = reads[0];
  check(reads.length === 1 && /^select/i.test(get.text) && get.values.length === 1 && get.values[0] === PROBE, 'get statement', reads);
  await s.delete(PROBE);
  return { set: set.text, get: get.text, setName: set.name, getName: get.name, rowMode: get.rowMode ?? 'objects' };
}

/** Whether the server answers, and how it is set up (the bench reports it). */
async function pgProbe(p) {
  const pool = pgPool(p);
  try {
    const { rows } = await pool.query(
      "SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync," +
        " current_setting('shared_buffers') AS shared_buffers",
    );
    const { version, fsync, sync: sessionSyncCommit, shared_buffers: sharedBuffers } = rows[0];
    const server = pgPool({ ...p, syncCommit: true });
    const { rows: def } = await server.query('SHOW synchronous_commit');
    await server.end();
    return { value: 1, unit: 'ok', version, fsync, sessionSyncCommit, serverSyncCommit: def[0].synchronous_commit, sharedBuffers };
  } finally {
    await pool.end();
  }
}

function* chunked(n, size = 1000) {
  for (let lo = 0; lo < n; lo += size) {
    const chunk = [];
    for (let i = lo; i < Math.min(n, lo + size); i++) chunk.push([key(i), VALUE]);
    yield chunk;
  }
}

/**
 * Timed n operations `op(i)`, after `warm` untimed ones `warmOp(i)`: the mean wall time in µs/op, and the
 * mean CPU time of this process (user + system) in µs/op, which leaves out the time spent waiting for the
 * server or the disk: what the library and the driver cost on the client.
 */
async function timedOps(n, warm, warmOp, op) {
  for (let i = 0; i < warm; i++) await warmOp(i);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  const us = (elapsedMs(t0) * 1000) / n;
  const c = process.cpuUsage(c0);
  return { value: us, unit: 'µs/op', cpu: (c.user + c.system) / n };
}

/** `size` keys `user:<i>` ([0, size)), in 100-key batches read in the scattered order. */
const batchOf = (j, size, per) => Array.from({ length: per }, (_, i) => readKey(j * per + i, size));

const jobs = {
  'pg-probe': pgProbe,

  /**
   * Creates the run's stores through drizzle-kv (which creates the schema `p.schema`), fills `p.fixture` with
   * `p.size` keys, and returns the SQL text of each store's set and get, for the raw adapter.
   */
  async 'pg-setup'(p) {
    const { openStore } = entry('pg');
    const pool = pgPool(p);
    const t0 = performance.now();
    const sql = {};
    try {
      for (const table of p.tables) {
        const s = await openStore(pool, { table, pgSchema: p.schema });
        sql[table] = await pgStatements(pool, s);
        if (table === p.fixture) for (const c of chunked(p.size)) await s.setMany(c);
        await s.close();
      }
    } finally {
      await pool.end();
    }
    return { value: elapsedMs(t0), unit: 'ms', sql };
  },

  async 'pg-drop'(p) {
    const pool = pgPool(p);
    try {
      await pool.query(`DROP SCHEMA IF EXISTS "${p.schema.replaceAll('"', '""')}" CASCADE`);
    } finally {
      await pool.end();
    }
    return { value: 1, unit: 'ok' };
  },

  /** n gets of keys of the fixture (all hits), in the scattered order. */
  async 'pg-get'(p) {
    const s = await pgSystem(p.system, p);
    let hits = 0;
    const result = await timedOps(
      p.n,
      p.warm,
      (i) => s.get(readKey(p.n + i, p.size)),
      async (i) => {
        if ((await s.get(readKey(i, p.size))) !== undefined) hits++;
      },
    );
    await s.close();
    if (hits !== p.n) throw new Error(`expected ${p.n} hits, got ${hits}`);
    return result;
  },

  /** n sets of new keys on an empty table (warm-up keys `warm:<i>`). */
  async 'pg-set'(p) {
    const s = await pgSystem(p.system, p);
    const result = await timedOps(p.n, p.warm, (i) => s.set(warmKey(i), VALUE), (i) => s.set(key(i), VALUE));
    await s.close();
    return result;
  },

  /** `p.calls` getMany of `p.per` keys (p.system 'getMany'), or as many batches of `p.per` awaited gets ('gets'); ms per batch. */
  async 'pg-getmany'(p) {
    const s = await pgSystem('drizzle-kv', p);
    const batches = Math.floor(p.size / p.per);
    const batch = (j) => batchOf(j % batches, p.size, p.per);
    let found = 0;
    const read =
      p.system === 'getMany'
        ? async (keys) => (await s.getMany(keys)).size
        : async (keys) => {
            let n = 0;
            for (const k of keys) if ((await s.get(k)) !== undefined) n++;
            return n;
          };
    for (let j = 0; j < p.warm; j++) await read(batch(p.calls + j));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let j = 0; j < p.calls; j++) found += await read(batch(j));
    const ms = elapsedMs(t0) / p.calls;
    const c = process.cpuUsage(c0);
    await s.close();
    if (found !== p.calls * p.per) throw new Error(`expected ${p.calls * p.per} hits, got ${found}`);
    return { value: ms, unit: 'ms', cpu: (c.user + c.system) / 1000 / p.calls };
  },

  /** One setMany of n new keys (p.system 'setMany', after a warm-up setMany of one entry), or n awaited sets ('sets'); ms. */
  async 'pg-setmany'(p) {
    const s = await pgSystem('drizzle-kv', p);
    let ms;
    let cpu;
    if (p.system === 'setMany') {
      const entries = Array.from({ length: p.n }, (_, i) => [key(i), VALUE]);
      await s.setMany([[warmKey(0), VALUE]]);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await s.setMany(entries);
      ms = elapsedMs(t0);
      const c = process.cpuUsage(c0);
      cpu = (c.user + c.system) / 1000;
    } else {
      const r = await timedOps(p.n, p.warm, (i) => s.set(warmKey(i), VALUE), (i) => s.set(key(i), VALUE));
      ms = (r.value * p.n) / 1000;
      cpu = (r.cpu * p.n) / 1000;
    }
    await s.close();
    return { value: ms, unit: 'ms', cpu };
  },

  // ── libSQL ─────────────────────────────────────────────────────────────────

  /**
   * Creates the stores (on a `file:` template, or the tables `p.tables` on a server) through drizzle-kv,
   * fills `p.fixture` with `p.size` keys, and returns each store's set and get statements.
   */
  async 'libsql-setup'(p) {
    const { openStore } = entry('libsql');
    const t0 = performance.now();
    const sql = {};
    for (const [url, table, fill] of p.stores) {
      const client = await libsqlClient(url);
      const s = await openStore(client, { table });
      sql[table] = await libsqlStatements(client, s);
      if (fill) for (const c of chunked(p.size)) await s.setMany(c);
      await s.close();
      if (url.startsWith('file:')) await client.execute('PRAGMA wal_checkpoint(TRUNCATE)'); // the file alone is the store: it is copied
      client.close();
    }
    return { value: elapsedMs(t0), unit: 'ms', sql };
  },

  async 'libsql-get'(p) {
    const s = await libsqlSystem(p.system, p);
    let hits = 0;
    const result = await timedOps(
      p.n,
      p.warm,
      (i) => s.get(readKey(p.n + i, p.size)),
      async (i) => {
        if ((await s.get(readKey(i, p.size))) !== undefined) hits++;
      },
    );
    await s.close();
    if (hits !== p.n) throw new Error(`expected ${p.n} hits, got ${hits}`);
    return result;
  },

  async 'libsql-set'(p) {
    if (p.template) copyFileSync(p.template, p.file);
    const s = await libsqlSystem(p.system, p);
    const result = await timedOps(p.n, p.warm, (i) => s.set(warmKey(i), VALUE), (i) => s.set(key(i), VALUE));
    await s.close();
    if (p.template) removeDb(p.file);
    return result;
  },

  // ── async SQLite ───────────────────────────────────────────────────────────

  /** A file of `p.size` keys, written by the sync KVStore. */
  async 'sqlite-load'(p) {
    const { KVStore } = require(DIST);
    const t0 = performance.now();
    const s = new KVStore(p.file);
    for (const c of chunked(p.size, 10_000)) s.setMany(c);
    s.close();
    return { value: elapsedMs(t0), unit: 'ms' };
  },

  async 'sqlite-get'(p) {
    const s = await sqliteSystem(p.system, p.file);
    let hits = 0;
    let ms;
    if (s.async) {
      for (let i = 0; i < p.warm; i++) await s.get(readKey(p.n + i, p.size));
      const t0 = performance.now();
      for (let i = 0; i < p.n; i++) if ((await s.get(readKey(i, p.size))) !== undefined) hits++;
      ms = elapsedMs(t0);
    } else {
      for (let i = 0; i < p.warm; i++) s.get(readKey(p.n + i, p.size));
      const t0 = performance.now();
      for (let i = 0; i < p.n; i++) if (s.get(readKey(i, p.size)) !== undefined) hits++;
      ms = elapsedMs(t0);
    }
    await s.close();
    if (hits !== p.n) throw new Error(`expected ${p.n} hits, got ${hits}`);
    return { value: (ms * 1000) / p.n, unit: 'µs/op' };
  },

  async 'sqlite-set'(p) {
    const s = await sqliteSystem(p.system, p.file);
    let ms;
    if (s.async) {
      for (let i = 0; i < p.warm; i++) await s.set(warmKey(i), VALUE);
      const t0 = performance.now();
      for (let i = 0; i < p.n; i++) await s.set(key(i), VALUE);
      ms = elapsedMs(t0);
    } else {
      for (let i = 0; i < p.warm; i++) s.set(warmKey(i), VALUE);
      const t0 = performance.now();
      for (let i = 0; i < p.n; i++) s.set(key(i), VALUE);
      ms = elapsedMs(t0);
    }
    await s.close();
    removeDb(p.file);
    return { value: (ms * 1000) / p.n, unit: 'µs/op' };
  },
};

/** drizzle-kv/sqlite's async store, or the sync KVStore (called without await: it is the sync API). */
async function sqliteSystem(system, file) {
  if (system === 'async') {
    const { openStore } = entry('sqlite');
    const s = await openStore(file);
    return { async: true, get: (k) => s.get(k), set: (k, v) => s.set(k, v), close: () => s.close() };
  }
  if (system !== 'sync') throw new Error(`unknown SQLite system ${system}`);
  const { KVStore } = require(DIST);
  const s = new KVStore(file);
  return { async: false, get: (k) => s.get(k), set: (k, v) => s.set(k, v), close: () => s.close() };
}

/**
 * The client both systems run on, made the way drizzle-kv/libsql makes one for a URL: intMode 'number', the busy
 * timeout (5000 ms, its default) and, for a file, WAL (the template and fixture files are WAL already).
 */
async function libsqlClient(url) {
  const { createClient } = require('@libsql/client');
  const client = createClient({ url, intMode: 'number', ...(url.startsWith('file:') ? { timeout: 5000 } : {}) });
  if (url.startsWith('file:')) await client.execute('PRAGMA journal_mode = WAL');
  return client;
}

/** Records what drizzle-kv sends through `client` (execute and batch) while `fn` runs. */
async function captureLibsql(client, fn) {
  const log = [];
  const saved = { execute: client.execute, batch: client.batch };
  client.execute = function (stmt, args) {
    log.push(typeof stmt === 'string' ? { sql: stmt, args: args ?? [] } : stmt);
    return saved.execute.call(this, stmt, args);
  };
  client.batch = function (stmts, mode) {
    for (const s of stmts) log.push(typeof s === 'string' ? { sql: s, args: [] } : s);
    return saved.batch.call(this, stmts, mode);
  };
  try {
    await fn();
  } finally {
    Object.assign(client, saved);
  }
  return log;
}

async function libsqlStatements(client, s) {
  // Twice: the first write of a store handle also culls (one batch with the upsert); the second is the plain set.
  await s.set(PROBE, VALUE);
  const writes = await captureLibsql(client, () => s.set(PROBE, VALUE));
  const set = writes[0];
  const json = JSON.stringify(VALUE);
  check(
    writes.length === 1 &&
      /^insert into/i.test(set.sql) &&
      set.args.length === 7 &&
      set.args[0] === PROBE &&
      set.args[1] === json &&
      set.args[2] === null &&
      typeof set.args[3] === 'number' &&
      set.args[4] === Buffer.byteLength(PROBE) + Buffer.byteLength(json) &&
      set.args[5] === set.args[3] &&
      set.args[6] === null,
    'libSQL set statement',
    writes,
  );
  const reads = await captureLibsql(client, () => s.get(PROBE));
  const get = reads[0];
  check(reads.length === 1 && /^select/i.test(get.sql) && get.args.length === 1 && get.args[0] === PROBE, 'libSQL get statement', reads);
  await s.delete(PROBE);
  return { set: set.sql, get: get.sql };
}

/** drizzle-kv/libsql on an app's client, or raw `client.execute` of `p.sql` (the statements drizzle-kv runs). */
async function libsqlSystem(system, p) {
  const client = await libsqlClient(p.url);
  if (system === 'drizzle-kv') {
    const { openStore } = entry('libsql');
    const s = await openStore(client, { table: p.table });
    return {
      set: (k, v) => s.set(k, v),
      get: (k) => s.get(k),
      close: async () => {
        await s.close();
        client.close();
      },
    };
  }
  if (system !== 'raw') throw new Error(`unknown libSQL system ${system}`);
  const { set: setSql, get: getSql } = p.sql;
  return {
    async set(k, v) {
      const json = JSON.stringify(v);
      const now = Date.now();
      await client.execute({ sql: setSql, args: [k, json, null, now, Buffer.byteLength(k) + Buffer.byteLength(json), now, null] });
    },
    async get(k) {
      const { rows } = await client.execute({ sql: getSql, args: [k] });
      const r = rows[0];
      if (r === undefined || (r[1] !== null && r[1] <= Date.now())) return undefined;
      return JSON.parse(typeof r[0] === 'string' ? r[0] : Buffer.from(r[0]).toString('utf8'));
    },
    close: async () => client.close(),
  };
}

const [job, json = '{}'] = process.argv.slice(2);
if (!jobs[job]) {
  console.error(`usage: node bench/engine-worker.mjs <${Object.keys(jobs).join('|')}> '<json>'`);
  process.exit(2);
}
let result;
try {
  result = await jobs[job](JSON.parse(json));
} catch (err) {
  // The whole error for the log; its one-line summary for the report (engines.mjs shows it in the rows).
  console.error(err);
  const summary = [err?.code, err?.message || String(err)].filter(Boolean).join(' ');
  console.log(JSON.stringify({ error: summary.split('\n')[0] || `${err}` }));
  process.exit(1);
}
console.log(JSON.stringify(result));
// A client or pool left with a timer must not keep the process (the runner waits for it).
process.exit(0);
