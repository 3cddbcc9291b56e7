// The -wal file stays within its documented bound while readers in other
// processes keep read transactions overlapping and one process writes. The
// readers and the writer are real processes on the built package
// (tests/children/wal-*.cjs, driven by wal-harness.cjs); this test samples
// the size of the -wal file every 20 ms. Without the checkpoints of
// src/wal.ts the -wal of this run seldom starts over and passes the bound
// within seconds (133 and 323 MiB in two 8 s runs; docs/benchmarks.md, "The
// -wal bound"). Then the checkpoint itself, in this process: refused by a
// reader, it neither throws nor leaves the connection's busy timeout changed.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KVStore } from '../../src';
import { type Connection, openConnection } from '../../src/sqlite/connection';
import { resolveDatabaseOptions } from '../../src/core/options';
import { WAL_BOUND_BYTES, WAL_CHECKPOINT_BYTES, checkpointIfLarge } from '../../src/sqlite/wal';
import { builtEntry } from '../built';
import { tempDb } from '../helpers';

interface ChildReport {
  errors: unknown[];
  stderr: string;
}

interface WalRun {
  maxWalBytes: number;
  appendedBytes: number;
  truncations: number;
  storeBytes: number;
  ms: number;
  writer: (ChildReport & { sets: number; batches: number; slowest: number; emptied: number; emptiedMs: number }) | undefined;
  readers: ((ChildReport & { passes: number; reads: number; longest: number }) | undefined)[];
  problems: string[];
  integrity: string;
}

interface WalHarness {
  MiB: number;
  WAL_BOUND_BYTES: number;
  fillStore(options: { entry: string; path: string; keys?: number }): number;
  runWalGrowth(options: {
    entry: string;
    path: string;
    readers?: number;
    seconds?: number;
    maxSeconds?: number;
    minAppendedBytes?: number;
    reads?: 'long' | 'short';
    seed?: number;
  }): Promise<WalRun>;
}

const harness = require(join(__dirname, '../children/wal-harness.cjs')) as WalHarness;
const MiB = harness.MiB;

describe('the -wal bound', () => {
  it(`keeps the -wal within ${WAL_BOUND_BYTES / MiB} MiB while 4 reader processes overlap on an 18 MiB store and 1 process writes`, async () => {
    // scripts/stress.mjs judges its runs by the harness's copy of the bound.
    expect(harness.WAL_BOUND_BYTES).toBe(WAL_BOUND_BYTES);
    const entry = builtEntry();
    const path = tempDb('wal.db');
    const storeBytes = harness.fillStore({ entry, path });
    expect(storeBytes).toBeGreaterThan(17 * MiB);

    // 8 s, longer (up to 12 s) if the writes have not yet put twice the bound through the -wal: the bound
    // must be shown on a run that would have passed it had the -wal never started over.
    const run = await harness.runWalGrowth({ entry, path, readers: 4, seconds: 8, maxSeconds: 20, minAppendedBytes: 2 * WAL_BOUND_BYTES });

    expect(run.problems).toEqual([]);
    expect(run.integrity).toBe('ok');
    expect(run.writer?.sets).toBeGreaterThan(0);
    for (const reader of run.readers) expect(reader?.passes).toBeGreaterThan(0);
    // The run is a real test of the bound: more than the bound went through the -wal.
    expect(run.appendedBytes).toBeGreaterThan(WAL_BOUND_BYTES);
    // The bound itself.
    expect(run.maxWalBytes).toBeLessThanOrEqual(WAL_BOUND_BYTES);
    // Held by the checkpoints, not by luck: the -wal passed the threshold and was emptied.
    expect(run.maxWalBytes).toBeGreaterThan(WAL_CHECKPOINT_BYTES);
    expect(run.truncations).toBeGreaterThan(0);
  });
});

const walSize = (path: string) => statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;

/** A connection drizzle-kv opens itself, on a file with a table `t` of its own (not a store: only the -wal matters here). */
function writerOn(path: string, timeout = 5000): Connection {
  const conn = openConnection(path, resolveDatabaseOptions({ timeout }));
  conn.client.exec('CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  return conn;
}

/** Writes about `mib` MiB of new rows, 1 MiB per transaction. */
function writeMiB(conn: Connection, mib: number): void {
  const insert = conn.client.prepare('INSERT INTO t (v) VALUES (?)');
  const batch = conn.client.transaction(() => {
    for (let i = 0; i < 256; i++) insert.run(randomBytes(4096));
  });
  for (let i = 0; i < mib; i++) batch();
}

/** Another process's reader as SQLite sees it: a connection holding a read transaction (a snapshot) open. */
function holdSnapshot(path: string): Database.Database {
  const reader = new Database(path);
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM t').get();
  return reader;
}

describe('the checkpoint behind the -wal bound', () => {
  it('sets journal_size_limit on the writable connections drizzle-kv opens', () => {
    const path = tempDb();
    using _store = new KVStore(path);
    const conn = writerOn(path);
    const readonly = openConnection(path, resolveDatabaseOptions({ readonly: true }));
    try {
      expect(conn.client.pragma('journal_size_limit', { simple: true })).toBe(WAL_CHECKPOINT_BYTES);
      // A read-only connection never writes the -wal, so it is left at SQLite's default (no limit).
      expect(readonly.client.pragma('journal_size_limit', { simple: true })).toBe(-1);
    } finally {
      readonly.close();
      conn.close();
    }
  });

  it('is refused by a reader that holds a snapshot, without throwing and with the busy timeout restored; once the reader ends, empties the -wal', () => {
    const path = tempDb();
    const writer = writerOn(path, 4321);
    try {
      writeMiB(writer, 1);
      const reader = holdSnapshot(path);
      // The reader's snapshot keeps SQLite's own checkpoints from copying anything written after it.
      writeMiB(writer, 20);
      const pinned = walSize(path);
      expect(pinned).toBeGreaterThan(WAL_CHECKPOINT_BYTES);

      expect(() => writer.maintain()).not.toThrow();
      expect(writer.client.pragma('busy_timeout', { simple: true })).toBe(4321);
      expect(walSize(path)).toBe(pinned);
      // The connection still writes, and reads its writes.
      writer.client.prepare("INSERT INTO t (k, v) VALUES (-1, x'00')").run();
      expect(writer.client.prepare('SELECT count(*) FROM t WHERE k = -1').pluck().get()).toBe(1);

      reader.exec('COMMIT');
      reader.close();
      // A connection that has not been refused tries at once (the refused one backs off until the -wal grows by a quarter).
      const other = writerOn(path, 4321);
      try {
        other.maintain();
        expect(walSize(path)).toBe(0);
        expect(other.client.pragma('busy_timeout', { simple: true })).toBe(4321);
      } finally {
        other.close();
      }
    } finally {
      writer.close();
    }
  });

  it('does nothing inside a transaction (a checkpoint cannot run there) nor below the threshold', () => {
    const path = tempDb();
    const writer = writerOn(path);
    try {
      writeMiB(writer, 1);
      const reader = holdSnapshot(path);
      writeMiB(writer, 20);
      reader.close();
      const large = walSize(path);
      expect(large).toBeGreaterThan(WAL_CHECKPOINT_BYTES);
      writer.client.exec('BEGIN IMMEDIATE');
      expect(() => checkpointIfLarge(writer.client)).not.toThrow();
      writer.client.exec('COMMIT');
      expect(walSize(path)).toBe(large);

      writer.maintain();
      expect(walSize(path)).toBe(0);
      writeMiB(writer, 2);
      const small = walSize(path);
      expect(small).toBeGreaterThan(0);
      writer.maintain();
      expect(walSize(path)).toBe(small);
    } finally {
      writer.close();
    }
  });
});
