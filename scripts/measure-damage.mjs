#!/usr/bin/env node
// Measures what one flipped bit does to a store, through the built package
// (dist/; run `npm run build` first). Two experiments, each of --flips trials
// on real files in a temporary folder:
//
// 1. A closed database file (no -wal) holding --rows known entries. Each trial
//    flips one random bit of a copy of the file, then opens the copy with
//    drizzle-kv and reads every entry back, with get() of each key and with
//    items(). A trial is classified by what the caller saw: a typed error at
//    open, a typed error on a read, every value read back right, or a wrong
//    answer returned without any error (a changed value, a missing entry, an
//    extra one). `PRAGMA integrity_check` is run on a second copy of the
//    damaged file, before drizzle-kv touches it.
//
// 2. A -wal holding --commits commits that were never checkpointed (what a
//    process killed with SIGKILL leaves behind): copies of the database file
//    and of its -wal, taken while the writer still has them open. Each trial
//    flips one random bit of the -wal copy, opens the pair with drizzle-kv and
//    counts the commits that read back.
//
//   node scripts/measure-damage.mjs [--flips 400] [--rows 500] [--commits 200] [--seed 1]
//
// Prints the figures docs/guarantees.md quotes. The trials are random but
// seeded: the same seed on the same build gives the same figures.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).main;
let kv;
try {
  kv = require(join(root, main));
} catch (err) {
  console.error(`cannot load the built package (${main}): run \`npm run build\` first\n${err.message}`);
  process.exit(2);
}
const { KVStore, isKVError } = kv;
const Database = require('better-sqlite3');
const { mulberry32 } = require(join(root, 'tests/children/prng.cjs'));

const { values: args } = parseArgs({
  options: {
    flips: { type: 'string', default: '400' },
    rows: { type: 'string', default: '500' },
    commits: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
  },
});
const flips = Number(args.flips);
const rowCount = Number(args.rows);
const commitCount = Number(args.commits);
const seed = Number(args.seed);
for (const [name, n] of [['flips', flips], ['rows', rowCount], ['commits', commitCount], ['seed', seed]]) {
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number of 1 or more`);
    process.exit(2);
  }
}
const random = mulberry32(seed);
const dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-damage-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** The known entries: mixed JSON values, every other one with a TTL of 30 days. */
function entry(i) {
  const key = `k:${String(i).padStart(5, '0')}`;
  const value = i % 3 === 0 ? `text ${i} ${'abc'.repeat(i % 20)}` : { i, half: i / 2, name: `item ${i}`, tags: ['a', String(i % 7)], ok: i % 2 === 0 };
  return { key, value, ttl: i % 2 === 0 ? 30 * 24 * 3600 : undefined };
}
const entries = Array.from({ length: rowCount }, (_, i) => entry(i));
const expected = new Map(entries.map((e) => [e.key, e.value]));

/** Writes the known entries into a new store file at `path` and closes it (no -wal left). */
function makeStore(path) {
  const store = new KVStore(path);
  for (const e of entries) store.set(e.key, e.value, e.ttl);
  store.close();
}

/** A copy of `bytes` with bit `bit` (counted from the start of the file) flipped. */
function flipped(bytes, bit) {
  const copy = Buffer.from(bytes);
  copy[bit >> 3] ^= 1 << (bit & 7);
  return copy;
}

/** `PRAGMA integrity_check` of `path` with the raw driver: 'ok', or 'fails' (also when it throws). */
function integrity(path) {
  let db;
  try {
    db = new Database(path);
    const rows = db.pragma('integrity_check', { simple: false });
    return rows.length === 1 && rows[0].integrity_check === 'ok' ? 'ok' : 'fails';
  } catch {
    return 'fails';
  } finally {
    db?.close();
  }
}

/** The error's code if drizzle-kv typed it, else a note that it did not. */
function codeOf(err) {
  return isKVError(err) ? err.code : `untyped ${err?.name}: ${err?.message}`;
}

/**
 * Opens `path` with drizzle-kv and runs `read(store)`. Returns
 * { stage: 'open' | 'read', code } when a call threw, else { result }.
 */
function attempt(path, read) {
  let store;
  try {
    store = new KVStore(path);
  } catch (err) {
    return { stage: 'open', code: codeOf(err) };
  }
  try {
    return { result: read(store) };
  } catch (err) {
    return { stage: 'read', code: codeOf(err) };
  } finally {
    try {
      store.close();
    } catch {
      // A store that failed may fail to close too; the trial is classified already.
    }
  }
}

/** Adds one to `counts[name]`. */
function count(counts, name) {
  counts[name] = (counts[name] ?? 0) + 1;
}

function pad(text, width) {
  return String(text).padEnd(width);
}

function printCodes(label, codes) {
  const list = Object.entries(codes).sort((a, b) => b[1] - a[1]);
  if (list.length > 0) console.log(`  ${label}: ${list.map(([code, n]) => `${code} ${n}`).join(', ')}`);
}

// 1. The closed database file.
{
  const source = join(dir, 'source.db');
  makeStore(source);
  const bytes = readFileSync(source);
  const outcomes = [
    'typed error at open',
    'typed error on read',
    'wrong answer returned silently',
    'all values read back right',
    'an error drizzle-kv did not type',
  ];
  const table = Object.fromEntries(outcomes.map((o) => [o, { trials: 0, integrityOk: 0 }]));
  const untyped = [];
  const openCodes = {};
  const readCodes = {};
  const wrongKinds = {};
  for (let trial = 0; trial < flips; trial++) {
    const damaged = flipped(bytes, Math.floor(random() * bytes.length * 8));
    const path = join(dir, `db-${trial}.db`);
    const copy = join(dir, `db-${trial}-check.db`);
    writeFileSync(path, damaged);
    writeFileSync(copy, damaged);
    const check = integrity(copy);
    const seen = attempt(path, (store) => {
      const wrong = new Set();
      for (const [key, value] of expected) {
        const got = store.get(key);
        if (got === undefined) wrong.add('an entry missing');
        else if (!isDeepStrictEqual(got, value)) wrong.add('a value changed');
      }
      const items = store.items();
      if (items.some(([key]) => !expected.has(key))) wrong.add('an entry that was never written');
      else if (items.length !== expected.size) wrong.add('an entry missing');
      if (store.size !== items.length) wrong.add('size differs from items()');
      return [...wrong];
    });
    let outcome;
    if (seen.code?.startsWith('untyped')) {
      outcome = 'an error drizzle-kv did not type';
      untyped.push(seen.code);
    } else if (seen.stage === 'open') {
      outcome = 'typed error at open';
      count(openCodes, seen.code);
    } else if (seen.stage === 'read') {
      outcome = 'typed error on read';
      count(readCodes, seen.code);
    } else if (seen.result.length > 0) {
      outcome = 'wrong answer returned silently';
      for (const kind of seen.result) count(wrongKinds, kind);
    } else {
      outcome = 'all values read back right';
    }
    table[outcome].trials++;
    if (check === 'ok') table[outcome].integrityOk++;
    for (const suffix of ['', '-wal', '-shm', '-check.db', '-check.db-wal', '-check.db-shm']) {
      rmSync(suffix.startsWith('-check') ? join(dir, `db-${trial}${suffix}`) : `${path}${suffix}`, { force: true });
    }
  }
  const pages = bytes.length / 4096;
  console.log(`Closed database file: ${rowCount} entries, ${bytes.length} bytes (${pages} pages of 4096), no -wal.`);
  console.log(`${flips} trials, one random bit of the file flipped in each (seed ${seed}).`);
  console.log('');
  console.log(`${pad('outcome', 34)}${pad('trials', 8)}of which integrity_check says ok`);
  for (const o of outcomes) console.log(`${pad(o, 34)}${pad(table[o].trials, 8)}${table[o].integrityOk}`);
  printCodes('errors at open', openCodes);
  printCodes('errors on read', readCodes);
  printCodes('wrong answers (a trial may have several)', wrongKinds);
  if (untyped.length > 0) console.log(`  errors drizzle-kv did not type: ${[...new Set(untyped)].join('; ')}`);
  console.log('');
}

// 2. A -wal with commits not yet checkpointed.
{
  const source = join(dir, 'wal-source.db');
  makeStore(source);
  const store = new KVStore(source);
  const commitKey = (i) => `c:${String(i).padStart(5, '0')}`;
  // One commit each: a new key, and 'last', which every commit overwrites.
  for (let i = 1; i <= commitCount; i++) store.setMany([[commitKey(i), i], ['last', i]]);
  const saved = join(dir, 'wal-saved.db');
  // Copies taken while the writer has the files open: what a SIGKILL at this moment leaves.
  copyFileSync(source, saved);
  copyFileSync(`${source}-wal`, `${saved}-wal`);
  store.close();
  const dbBytes = readFileSync(saved);
  const walBytes = readFileSync(`${saved}-wal`);
  const frames = (walBytes.length - 32) / (4096 + 24);

  /** The commits that read back from the pair at `path`: [how many, whether they are the first ones in order, base entries right]. */
  const readCommits = (store) => {
    let present = 0;
    let highest = 0;
    for (let i = 1; i <= commitCount; i++) {
      if (store.get(commitKey(i)) === i) {
        present++;
        highest = i;
      }
    }
    const base = [...expected].every(([key, value]) => isDeepStrictEqual(store.get(key), value));
    // A consistent earlier state: commits 1..n and 'last' = n (or absent when n = 0).
    const consistent = present === highest && (store.get('last') ?? 0) === highest;
    return { present, consistent, base };
  };

  const control = join(dir, 'wal-control.db');
  copyFileSync(saved, control);
  copyFileSync(`${saved}-wal`, `${control}-wal`);
  const controlRead = attempt(control, readCommits);
  if (controlRead.result?.present !== commitCount || !controlRead.result.base) {
    console.error(`the undamaged copy does not read back (${JSON.stringify(controlRead)}); the measurement is void`);
    process.exit(1);
  }

  const counts = {
    'typed error at open': 0,
    'typed error on read': 0,
    'every commit read back': 0,
    'commits lost silently': 0,
    'other wrong answer': 0,
    'an error drizzle-kv did not type': 0,
  };
  const lost = [];
  const codes = {};
  let integrityOk = 0;
  let wholeLog = 0;
  for (let trial = 0; trial < flips; trial++) {
    const bit = Math.floor(random() * walBytes.length * 8);
    const damaged = flipped(walBytes, bit);
    if (bit < 32 * 8) wholeLog++;
    const path = join(dir, `wal-${trial}.db`);
    const copy = join(dir, `wal-${trial}-check.db`);
    for (const p of [path, copy]) {
      writeFileSync(p, dbBytes);
      writeFileSync(`${p}-wal`, damaged);
    }
    if (integrity(copy) === 'ok') integrityOk++;
    const seen = attempt(path, readCommits);
    if (seen.code?.startsWith('untyped')) {
      counts['an error drizzle-kv did not type']++;
      count(codes, seen.code);
    } else if (seen.stage !== undefined) {
      counts[seen.stage === 'open' ? 'typed error at open' : 'typed error on read']++;
      count(codes, seen.code);
    } else if (!seen.result.base || !seen.result.consistent) {
      counts['other wrong answer']++;
    } else if (seen.result.present === commitCount) {
      counts['every commit read back']++;
    } else {
      counts['commits lost silently']++;
      lost.push(commitCount - seen.result.present);
    }
    for (const p of [path, copy]) for (const suffix of ['', '-wal', '-shm']) rmSync(`${p}${suffix}`, { force: true });
  }
  lost.sort((a, b) => a - b);
  const mean = lost.length > 0 ? lost.reduce((a, b) => a + b, 0) / lost.length : 0;
  const median = lost.length > 0 ? lost[Math.floor(lost.length / 2)] : 0;
  console.log(
    `-wal with ${commitCount} commits not checkpointed: ${walBytes.length} bytes (${frames} frames), ` +
      `over a database file of ${rowCount} entries (${dbBytes.length} bytes).`,
  );
  console.log(`${flips} trials, one random bit of the -wal flipped in each (seed ${seed}); ${wholeLog} of them in its 32-byte header.`);
  console.log('');
  console.log(`${pad('outcome', 34)}trials`);
  for (const [o, n] of Object.entries(counts)) console.log(`${pad(o, 34)}${n}`);
  printCodes('errors', codes);
  console.log(`commits lost, in the trials that lost some: mean ${mean.toFixed(1)}, median ${median}, most ${lost.at(-1) ?? 0} of ${commitCount}`);
  console.log(`integrity_check says ok: ${integrityOk} of ${flips}`);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total !== flips) throw new Error('a trial was not classified');
}
