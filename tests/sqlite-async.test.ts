// drizzle-kv/sqlite: what the async SQLite store adds to the shared contract
// (tests/contract/): waiting for other connections' locks without blocking the
// event loop, also while opening, with many processes on one fresh file.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KVStore } from '../src';
import { openStore } from '../src/sqlite/async';
import { builtEntry, root } from './built';
import { nextLine } from './child-lines';
import { tempDb } from './helpers';

/** The longest gap between the ticks of a 10 ms interval while `work` runs: how long the event loop was blocked. */
async function longestStall(work: () => Promise<unknown>): Promise<{ stall: number; outcome: unknown }> {
  let last = performance.now();
  let stall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 10);
  let outcome: unknown;
  try {
    outcome = await work();
  } catch (err) {
    outcome = err;
  } finally {
    clearInterval(timer);
  }
  return { stall: Math.max(stall, performance.now() - last), outcome };
}

describe('drizzle-kv/sqlite', () => {
  it('waits for another connection’s write lock on a timer: the event loop keeps running, and the write lands once the lock is gone', async () => {
    const path = tempDb();
    await using store = await openStore(path, { table: 'kv', timeout: 2000 });
    await store.set('k', 0);
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      // Released by a timer of this same process: only a store that does not block the thread lets it fire.
      setTimeout(() => other.exec('COMMIT'), 300);
      const { stall, outcome } = await longestStall(() => store.set('k', 1));
      expect(outcome).toBeUndefined();
      expect(stall).toBeLessThan(150); // coarse: blocked would be 300 ms or more
      expect(await store.get('k')).toBe(1);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  });

  it('(the sync KVStore, for contrast, blocks the thread while it waits, so the same timer cannot release the lock)', async () => {
    const path = tempDb();
    using store = new KVStore(path, { table: 'kv', timeout: 400 });
    store.set('k', 0);
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const release = setTimeout(() => other.exec('COMMIT'), 100);
      const { stall, outcome } = await longestStall(async () => store.set('k', 1));
      clearTimeout(release);
      expect((outcome as { code?: string }).code).toBe('ERR_KV_BUSY');
      expect(stall).toBeGreaterThanOrEqual(350);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  });

  it('8 processes opening one fresh file at the same moment all succeed, over 5 rounds', async () => {
    builtEntry();
    const failures: string[] = [];
    for (let round = 0; round < 5; round++) {
      const path = tempDb(`async-race-${round}.db`);
      const children = Array.from({ length: 8 }, () =>
        spawn(process.execPath, [join(__dirname, 'children/open-and-write-async.cjs'), path, 'race'], {
          env: { ...process.env, DRIZZLE_KV_SQLITE_ENTRY: join(root, 'dist/sqlite.cjs') },
        }),
      );
      expect(await Promise.all(children.map(nextLine))).toEqual(Array(8).fill('ready'));
      const answers = children.map(nextLine);
      for (const child of children) child.stdin.end('go\n');
      failures.push(...(await Promise.all(answers)).filter((line) => line !== 'ok'));
      await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
      using check = new KVStore(path, 'race');
      expect(check.get('opens')).toBe(8);
    }
    expect(failures).toEqual([]);
  });
});
