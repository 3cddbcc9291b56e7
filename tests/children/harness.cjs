// Shared driver of the reliability tests (tests/reliability/) and of
// scripts/stress.mjs: starts the children in this folder against one file,
// collects what they acknowledged, and checks the file against it. It is not
// a child itself; it lives here next to the children it drives.
//
// Every check returns a list of problems (empty when all is well) rather than
// throwing, so the tests can assert `toEqual([])` and show what went wrong,
// and the stress script can count.
'use strict';
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { join } = require('node:path');
const { Worker } = require('node:worker_threads');
const Database = require('better-sqlite3');

const children = __dirname;

const { mulberry32 } = require('./prng.cjs');

/** `PRAGMA integrity_check` of a file, through a connection of its own. */
function integrity(path) {
  const db = new Database(path);
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
}

/** Calls `onLine` for every complete line the child prints; resolves with all of them when it exits. */
function lines(child, onLine = () => {}) {
  const seen = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      seen.push(line);
      onLine(line);
    }
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close' comes after stdout has been read to its end.
    child.on('close', (code, signal) => resolve({ lines: seen, code, signal, stderr }));
  });
}

/** Resolves when `child` prints `expected` as a line. */
function lineFrom(child, expected) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk) => {
      buffered += chunk;
      if (buffered.split('\n').slice(0, -1).includes(expected)) {
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    // 'close', not 'exit': 'exit' can come before the last output has been read.
    child.on('close', (code) => reject(new Error(`child exited with ${code} before printing "${expected}"`)));
  });
}

// ---------------------------------------------------------------------------
// The mix: many processes (or threads) × many operations on one file.

/**
 * Runs `processes` copies of worker-mix.cjs against `path`, as child
 * processes or (`threads: true`) worker threads, released at the same moment.
 * Resolves with their reports.
 */
async function runMix({ entry, path, processes, ops, seed = 1, threads = false }) {
  const started = Date.now();
  const script = join(children, 'worker-mix.cjs');
  let reports;
  if (threads) {
    const workers = Array.from(
      { length: processes },
      (_, id) => new Worker(script, { workerData: { entry, path, id, ops, seed: seed * 1000 + id } }),
    );
    const message = (w) =>
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    await Promise.all(workers.map(message)); // "ready"
    const done = workers.map(message);
    for (const w of workers) w.postMessage('go');
    reports = await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));
  } else {
    const procs = Array.from({ length: processes }, (_, id) =>
      spawn(process.execPath, [script, entry, path, String(id), String(ops), String(seed * 1000 + id)]),
    );
    const outputs = procs.map((child) => lines(child));
    await Promise.all(procs.map((child) => lineFrom(child, 'ready')));
    for (const child of procs) child.stdin.end('go\n');
    const results = await Promise.all(outputs);
    reports = results.map((r, id) => {
      const last = r.lines[r.lines.length - 1];
      if (r.code !== 0 || !last || !last.startsWith('{')) {
        return { id, ops: 0, errors: [{ op: 'exit', code: r.code, message: r.stderr.slice(0, 2000) }], mismatches: [], incr: 0, acked: {}, addWins: [], poolAdds: {}, poolPops: {}, counts: {} };
      }
      return JSON.parse(last);
    });
  }
  return { reports, ms: Date.now() - started };
}

/**
 * Checks the file after a mix against what the children acknowledged.
 * Returns counts and the problems found.
 */
function checkMix({ entry, path, reports, processes }) {
  const { KVStore } = require(entry);
  const errors = reports.flatMap((r) => r.errors.map((e) => ({ child: r.id, ...e })));
  const mismatches = reports.flatMap((r) => r.mismatches.map((m) => ({ child: r.id, ...m })));
  const lost = [];
  const extra = [];
  const raceProblems = [];
  const store = new KVStore(path, 'mix');
  let counter;
  let acknowledged = 0;
  try {
    counter = { expected: reports.reduce((n, r) => n + r.incr, 0), actual: store.get('counter', 0) };
    for (const r of reports) {
      const acked = new Map(Object.entries(r.acked));
      acknowledged += acked.size;
      for (const [key, value] of acked) {
        const found = store.get(key);
        if (JSON.stringify(found) !== JSON.stringify(value)) lost.push({ key, expected: value, found: found ?? '<missing>' });
      }
      // Nothing this child deleted may come back, nothing it never wrote may appear.
      for (const key of store.keys({ prefix: `c${r.id}:` })) if (!acked.has(key)) extra.push(key);
    }
    const winners = new Map();
    for (const r of reports) for (const key of r.addWins) winners.set(key, [...(winners.get(key) ?? []), r.id]);
    for (const key of store.keys({ prefix: 'race:' })) {
      const ids = winners.get(key) ?? [];
      if (ids.length !== 1 || store.get(key) !== ids[0]) raceProblems.push({ key, winners: ids, stored: store.get(key) });
      winners.delete(key);
    }
    for (const [key, ids] of winners) raceProblems.push({ key, winners: ids, stored: '<missing>' });
    // Conservation in the pool: nothing popped twice, nothing added lost.
    const sum = (field, key) => reports.reduce((n, r) => n + ((r[field] ?? {})[key] ?? 0), 0);
    const poolKeys = new Set(reports.flatMap((r) => [...Object.keys(r.poolAdds ?? {}), ...Object.keys(r.poolPops ?? {})]));
    for (const key of poolKeys) {
      const adds = sum('poolAdds', key);
      const pops = sum('poolPops', key);
      const left = store.has(key) ? 1 : 0;
      if (adds !== pops + left) raceProblems.push({ key, adds, pops, left });
    }
  } finally {
    store.close();
  }
  const operations = reports.reduce((n, r) => n + r.ops, 0);
  const missingReports = processes === undefined ? 0 : processes - reports.length;
  return { operations, acknowledged, errors, mismatches, lost, extra, counter, raceProblems, missingReports, integrity: integrity(path) };
}

// ---------------------------------------------------------------------------
// The crash loop: a writer killed with SIGKILL at random moments.

/** What all the rounds of one file have acknowledged so far. */
function newCrashLedger() {
  return {
    keys: [], // n of every acknowledged set('k:<n>', n)
    lastCounter: 0, // last acknowledged set('counter', n)
    batches: new Set(), // acknowledged setMany batches
    clearing: new Set(), // batches whose clear had started (may be gone)
    cleared: new Set(), // batches whose clear was acknowledged
    lastBatch: 0,
  };
}

/**
 * Starts crash-writer.cjs on `path`, kills it with SIGKILL, and adds what it
 * acknowledged to `ledger`. `mode` 'random': after `delayMs`; 'batch': `delayMs`
 * after it announces a setMany (to land inside the transaction).
 * Resolves with what the round saw.
 */
async function crashRound({ entry, path, ledger, mode, delayMs, durability = 'normal', batchEvery = 400, batchSize = 2000 }) {
  const child = spawn(process.execPath, [join(children, 'crash-writer.cjs'), entry, path, durability, String(batchEvery), String(batchSize)]);
  let timer;
  let killedAt = null;
  const kill = () => {
    if (killedAt === null) {
      killedAt = Date.now();
      child.kill('SIGKILL');
    }
  };
  const done = lines(child, (line) => {
    if (line === 'ready' && mode === 'random') timer = setTimeout(kill, delayMs);
    if (line.startsWith('b ') && mode === 'batch' && timer === undefined) timer = setTimeout(kill, delayMs);
  });
  const safety = setTimeout(kill, 20_000);
  const { lines: out, signal, stderr } = await done;
  clearTimeout(timer);
  clearTimeout(safety);
  let inBatch = false;
  let inClear = false;
  let writes = 0;
  for (const line of out) {
    const [tag, num] = line.split(' ');
    const n = Number(num);
    if (tag === 'K') {
      ledger.keys.push(n);
      writes++;
    } else if (tag === 'C') {
      ledger.lastCounter = n;
      writes++;
    } else if (tag === 'b') inBatch = true;
    else if (tag === 'B') {
      inBatch = false;
      ledger.batches.add(n);
      ledger.lastBatch = n;
      writes++;
    } else if (tag === 'x') {
      inClear = true;
      ledger.clearing.add(n);
    } else if (tag === 'X') {
      inClear = false;
      ledger.cleared.add(n);
      writes++;
    }
  }
  return { signal, inBatch, inClear, writes, lines: out.length, stderr: signal === 'SIGKILL' ? '' : stderr.slice(0, 2000) };
}

/** Checks the file after a kill against everything acknowledged so far. Returns the problems found. */
function checkCrash({ entry, path, ledger, batchSize = 2000 }) {
  const problems = [];
  const check = integrity(path);
  if (check !== 'ok') problems.push(`integrity_check: ${check}`);
  const { KVStore } = require(entry);
  let store;
  try {
    store = new KVStore(path, 'crash');
  } catch (err) {
    problems.push(`reopen failed: ${err.code} ${err.message}`);
    return problems;
  }
  try {
    let lost = 0;
    const present = new Map(store.items({ prefix: 'k:' }));
    for (const n of ledger.keys) {
      if (present.get(`k:${n}`) !== n) {
        if (lost++ < 10) problems.push(`acknowledged k:${n} lost (found ${JSON.stringify(present.get(`k:${n}`))})`);
      }
    }
    if (lost > 10) problems.push(`… ${lost} acknowledged keys lost in all`);
    const counter = store.get('counter', 0);
    // The writer may have been killed after its set returned and before it printed: one ahead at most.
    if (counter !== ledger.lastCounter && counter !== ledger.lastCounter + 1) {
      problems.push(`counter is ${counter}, acknowledged ${ledger.lastCounter}`);
    }
    const batchKey = store.get('batch', 0);
    if (batchKey !== ledger.lastBatch && batchKey !== ledger.lastBatch + 1) {
      problems.push(`batch is ${batchKey}, acknowledged ${ledger.lastBatch}`);
    }
    // Every batch in the file is whole: all `batchSize` entries, each the right one.
    const found = new Map();
    for (const key of store.keys({ prefix: 'b' })) {
      const match = /^b(\d+):/.exec(key);
      if (!match) continue; // 'batch'
      const n = Number(match[1]);
      found.set(n, (found.get(n) ?? 0) + 1);
    }
    for (const [n, count] of found) {
      if (count !== batchSize) problems.push(`batch ${n} is half-applied: ${count} of ${batchSize} entries`);
      else {
        const items = store.items({ prefix: `b${n}:` });
        const bad = items.filter(([key, v], j) => v.batch !== n || v.j !== j || key !== `b${n}:${String(j).padStart(5, '0')}`);
        if (bad.length > 0) problems.push(`batch ${n} has ${bad.length} wrong entries`);
      }
      if (ledger.cleared.has(n)) problems.push(`batch ${n} was cleared (acknowledged) but is present`);
    }
    for (const n of ledger.batches) {
      if (!found.has(n) && !ledger.clearing.has(n)) problems.push(`acknowledged batch ${n} is missing`);
    }
  } finally {
    store.close();
  }
  return problems;
}

/**
 * Runs `rounds` crash rounds on one file, checking it after each kill.
 * Alternates kills at random moments with kills aimed at a setMany, and
 * durability 'normal' with 'full'.
 */
async function crashLoop({ entry, path, rounds, seed = 1, batchEvery, batchSize, onRound = () => {} }) {
  const rnd = mulberry32(seed);
  const ledger = newCrashLedger();
  const summary = { rounds: 0, killed: 0, killedInBatch: 0, killedInClear: 0, writes: 0, problems: [] };
  for (let round = 0; round < rounds; round++) {
    const mode = round % 3 === 2 ? 'batch' : 'random';
    const delayMs = mode === 'batch' ? Math.floor(rnd() * 4) : 30 + Math.floor(rnd() * 300);
    const durability = round % 2 === 0 ? 'normal' : 'full';
    const result = await crashRound({ entry, path, ledger, mode, delayMs, durability, batchEvery, batchSize });
    const problems = checkCrash({ entry, path, ledger, batchSize });
    if (result.signal !== 'SIGKILL') problems.push(`round ${round}: the writer was not killed but exited (${result.stderr})`);
    summary.rounds++;
    summary.killed += result.signal === 'SIGKILL' ? 1 : 0;
    summary.killedInBatch += result.inBatch ? 1 : 0;
    summary.killedInClear += result.inClear ? 1 : 0;
    summary.writes += result.writes;
    summary.problems.push(...problems.map((p) => `round ${round} (${mode}, ${durability}): ${p}`));
    onRound({ round, mode, durability, delayMs, ...result, problems });
  }
  summary.acknowledgedKeys = ledger.keys.length;
  summary.acknowledgedBatches = ledger.batches.size;
  return summary;
}

module.exports = { mulberry32, integrity, lines, lineFrom, runMix, checkMix, crashRound, checkCrash, crashLoop, newCrashLedger, once };
