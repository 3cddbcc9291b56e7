// Processes killed with SIGKILL in the middle of writing, over and over, on
// one file: after every kill the file must open, pass integrity_check, hold
// every write the killed process had acknowledged (it prints each one after
// the call returned, with a blocking write), and hold each multi-row
// transaction entirely or not at all.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DATABASE_FORMAT_VERSION, KVStore, STORE_FORMAT_VERSION } from '../../src';
import { builtEntry, root } from '../built';
import { integrity, tempDb, thrown, withRaw } from '../helpers';

interface CrashSummary {
  rounds: number;
  killed: number;
  killedInBatch: number;
  killedInClear: number;
  writes: number;
  problems: string[];
  acknowledgedKeys: number;
  acknowledgedBatches: number;
}

interface Harness {
  crashLoop(options: { entry: string; path: string; rounds: number; seed?: number; batchEvery?: number; batchSize?: number }): Promise<CrashSummary>;
  lines(child: ReturnType<typeof spawn>, onLine?: (line: string) => void): Promise<{ lines: string[]; code: number | null; signal: string | null; stderr: string }>;
}

const harness = require(join(__dirname, '../children/harness.cjs')) as Harness;

/** The library's internal modules, bundled for test children (tests/internals.ts). */
function internals(): string {
  builtEntry();
  return join(root, 'tests/.built/internals.cjs');
}

describe('a writer killed with SIGKILL', () => {
  it('loses no acknowledged write and never leaves a setMany half-applied, over 15 kills', async () => {
    const summary = await harness.crashLoop({ entry: builtEntry(), path: tempDb('crash.db'), rounds: 15, seed: 7, batchEvery: 400, batchSize: 2000 });
    expect(summary.problems).toEqual([]);
    expect(summary.killed).toBe(15);
    // The kills did land where they matter: some inside a 2000-row setMany.
    expect(summary.killedInBatch).toBeGreaterThan(0);
    expect(summary.acknowledgedKeys).toBeGreaterThan(1000);
    expect(summary.acknowledgedBatches).toBeGreaterThan(5);
  });
});

describe('a migration killed with SIGKILL', () => {
  const ROWS = 400_000;

  interface State {
    storeVersion: number;
    databaseVersion: string;
    tables: string[];
    bigRows: number | null;
    rows: unknown[];
  }

  function state(path: string): State {
    return withRaw(path, (db) => {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
      return {
        storeVersion: db.prepare("SELECT version FROM drizzle_kv_stores WHERE name = 's'").pluck().get() as number,
        databaseVersion: db.prepare("SELECT value FROM drizzle_kv_meta WHERE name = 'format'").pluck().get() as string,
        tables,
        bigRows: tables.includes('s_big') ? (db.prepare('SELECT count(*) FROM s_big').pluck().get() as number) : null,
        rows: db.prepare('SELECT key, CAST(value AS TEXT) AS value, expires_at FROM s ORDER BY key').all(),
      };
    });
  }

  /** Runs migrate-next.cjs with a long step; kills it `killAfterMs` after it starts migrating (never, if null). */
  async function migrate(path: string, killAfterMs: number | null): Promise<{ finished: boolean; killed: boolean }> {
    const child = spawn(process.execPath, [join(__dirname, '../children/migrate-next.cjs'), builtEntry(), internals(), path, 's', `big:${ROWS}`, 'now']);
    let timer: NodeJS.Timeout | undefined;
    const out = await harness.lines(child, (line) => {
      if (line === 'migrating' && killAfterMs !== null) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    clearTimeout(timer);
    if (out.signal === null) expect(out.lines).toEqual(['migrating', 'migrated']);
    return { finished: out.lines.includes('migrated'), killed: out.signal === 'SIGKILL' };
  }

  it('leaves the file entirely in the old format or entirely in the new one', async () => {
    const path = tempDb('migrate-kill.db');
    const store = new KVStore(path, 's');
    store.setMany(Array.from({ length: 1000 }, (_, i) => [`k:${i}`, { i }] as const));
    store.close();
    const before = state(path);
    expect(before).toMatchObject({ storeVersion: STORE_FORMAT_VERSION, databaseVersion: String(DATABASE_FORMAT_VERSION), bigRows: null });

    let killedMidway = 0;
    for (const delay of [40, 120, 250]) {
      const { finished, killed } = await migrate(path, delay);
      if (killed && !finished) killedMidway++;
      expect(integrity(path)).toBe('ok');
      const after = state(path);
      expect(after.rows).toEqual(before.rows);
      if (after.storeVersion === STORE_FORMAT_VERSION) {
        // Old format, entirely: no trace of either step.
        expect(after).toEqual(before);
        expect(after.tables).not.toContain('drizzle_kv_next');
        using reopened = new KVStore(path, 's'); // and this release still opens it
        expect(reopened.get('k:999')).toEqual({ i: 999 });
      } else {
        // New format, entirely.
        expect(after.storeVersion).toBe(STORE_FORMAT_VERSION + 1);
        expect(after.databaseVersion).toBe(String(DATABASE_FORMAT_VERSION + 1));
        expect(after.tables).toContain('drizzle_kv_next');
        expect(after.bigRows).toBe(ROWS);
        expect(thrown(() => new KVStore(path, 's')).code).toBe('ERR_KV_FORMAT_TOO_NEW');
        break;
      }
    }
    expect(killedMidway).toBeGreaterThan(0);

    // Run to the end: the migration then completes from whatever the kills left.
    await migrate(path, null);
    const done = state(path);
    expect(done).toMatchObject({ storeVersion: STORE_FORMAT_VERSION + 1, databaseVersion: String(DATABASE_FORMAT_VERSION + 1), bigRows: ROWS });
    expect(done.rows).toEqual(before.rows);
    expect(integrity(path)).toBe('ok');
  });
});
