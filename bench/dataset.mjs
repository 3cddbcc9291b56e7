// The data every benchmark uses, shared by the runner and the worker so that
// drizzle-kv, raw better-sqlite3 and Keyv read and write exactly the same thing.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, '..');
/**
 * The file `require('drizzle-kv')` loads, read from package.json ("exports",
 * then "main"): the benchmark measures what users run, not src/, and follows
 * the build if its entry moves (dist/src/index.js, or a bundle).
 */
function packageEntry() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const dot = pkg.exports?.['.'];
  const req = typeof dot === 'string' ? dot : (dot?.require ?? dot?.default);
  const file = typeof req === 'string' ? req : (req?.default ?? pkg.main ?? 'dist/src/index.js');
  return join(ROOT, file);
}
export const BUILT = packageEntry();
/**
 * What the workers load: the runner points BENCH_DIST at a copy of dist/ taken
 * when it starts, so a rebuild during the run (npm test rebuilds dist/) cannot
 * break it half-way or mix two builds in one table.
 */
export const DIST = process.env.BENCH_DIST ?? BUILT;
/** Comparison libraries live outside the package's own dependencies (see bench/README.md). */
export const DEPS = join(BENCH_DIR, '.deps/package.json');

export const VALUE = { name: 'Alice', age: 30, tags: ['a', 'b'] };
export const TTL_SECONDS = 3600;
export const key = (i) => `user:${i}`;
export const missKey = (i) => `miss:${i}`;

/**
 * The i-th key to read from a store of `size` keys: a fixed permutation
 * (7919 is prime, so coprime with every size used), so reads hit the B-tree
 * all over instead of walking it in order, the same way for every system.
 */
export const readKey = (i, size) => key((i * 7919) % size);

/**
 * The fake "now" of the purge fixture: fixed, so a store opened with
 * `clock: { now: () => PURGE_T0 }` sees nothing expired, and one opened at
 * PURGE_T1 sees exactly the rows written with a TTL as expired. No sleeping.
 */
export const PURGE_T0 = 1_700_000_000_000;
export const PURGE_T1 = PURGE_T0 + TTL_SECONDS * 1000 + 1;
/** In the purge fixture every 10th key has a TTL: 10% of the rows expire at PURGE_T1. */
export const expiresInPurgeFixture = (i) => i % 10 === 0;

/** Sizes of a full run and of a --quick one (N/10, 10k instead of 1M). */
export const SIZES = {
  full: { n: 20_000, keyvN: 2_000, list: 100_000, huge: 1_000_000, scale: [10_000, 100_000, 1_000_000], reps: 5, coldRuns: 20 },
  quick: { n: 2_000, keyvN: 200, list: 10_000, huge: 10_000, scale: [1_000, 10_000, 100_000], reps: 1, coldRuns: 5 },
};

/**
 * Raw better-sqlite3 baseline: the table and index drizzle-kv creates (store
 * format 2), under a short name. Every write sets updated_at (epoch ms) and
 * size (UTF-8 bytes of the key and the encoded value), as drizzle-kv does.
 */
export const RAW_SCHEMA = `
  CREATE TABLE IF NOT EXISTS t (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    accessed_at INTEGER NOT NULL DEFAULT 0,
    hits INTEGER NOT NULL DEFAULT 0,
    tags TEXT
  );
  CREATE INDEX IF NOT EXISTS t_expires_at_idx ON t(expires_at) WHERE expires_at IS NOT NULL;
  CREATE TABLE IF NOT EXISTS t_tags (tag TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (tag, key));
  CREATE TRIGGER IF NOT EXISTS t_tags_insert AFTER INSERT ON t WHEN new.tags IS NOT NULL BEGIN
    INSERT OR IGNORE INTO t_tags SELECT j.value, new.key FROM json_each(new.tags) AS j; END;
  CREATE TRIGGER IF NOT EXISTS t_tags_update AFTER UPDATE OF tags ON t WHEN old.tags IS NOT new.tags BEGIN
    DELETE FROM t_tags WHERE key = old.key; INSERT OR IGNORE INTO t_tags SELECT j.value, new.key FROM json_each(new.tags) AS j; END;
  CREATE TRIGGER IF NOT EXISTS t_tags_delete AFTER DELETE ON t WHEN old.tags IS NOT NULL BEGIN
    DELETE FROM t_tags WHERE key = old.key; END;`;
/** The raw baseline's upsert: the statement drizzle-kv's set runs, column for column (format 3: a write is an access, with its tags). */
export const RAW_UPSERT =
  'INSERT INTO t (key, value, expires_at, updated_at, size, accessed_at, hits, tags) VALUES (?, ?, ?, ?, ?, ?, 0, NULL) ' +
  'ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, ' +
  'updated_at = excluded.updated_at, size = excluded.size, accessed_at = excluded.accessed_at, hits = 0, tags = excluded.tags';

export function assertBuilt() {
  if (!existsSync(DIST)) {
    console.error(`drizzle-kv is not built: ${DIST} is missing. Run \`npm run build\` first.`);
    process.exit(2);
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
