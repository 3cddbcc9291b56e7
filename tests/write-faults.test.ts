// Writes whose commit fails: what the error says must be what the file holds.
// The faults are real: a reader holding a lock on a rollback-journal file, and
// a full file system (a small tmpfs).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KVStore } from '../src';
import { SmallFs, itWithFaults } from './fault-fs';
import { tempDb, thrown, withRaw } from './helpers';

/** Silences the connection-settings warning a journal-mode connection gets, as the tests below want that mode. */
function quietly<T>(fn: () => T): T {
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    return fn();
  } finally {
    spy.mockRestore();
  }
}

describe('a commit that fails', () => {
  it('on a rollback-journal connection while another reads: pop and delete throw ERR_KV_BUSY and keep the row', () => {
    const path = tempDb();
    const app = new Database(path, { timeout: 0 });
    app.pragma('journal_mode = DELETE');
    const store = quietly(() => new KVStore(app, 'jobs'));
    store.setMany({ 'job:1': 'first', 'job:2': 'second' });

    // A reader's open transaction holds a SHARED lock: the writer can delete, but not commit.
    const reader = new Database(path, { timeout: 0 });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM jobs').get();
    try {
      const popped = thrown(() => store.pop('job:1'));
      expect(popped.code).toBe('ERR_KV_BUSY');
      expect((popped.cause as { code: string }).code).toMatch(/^SQLITE_BUSY/);
      expect(thrown(() => store.delete('job:2')).code).toBe('ERR_KV_BUSY');
      expect(app.inTransaction).toBe(false);
    } finally {
      reader.exec('COMMIT');
      reader.close();
    }
    // The rows the errors said were not removed are there, and can be popped exactly once.
    expect(store.get('job:1')).toBe('first');
    expect(store.pop('job:1')).toBe('first');
    expect(store.pop('job:1')).toBeUndefined();
    expect(store.delete('job:2')).toBe(true);
    expect(store.delete('job:2')).toBe(false);
    store.close();
    app.close();
  });

  itWithFaults('on a full disk: every pop and delete either removes its row or throws ERR_KV_FULL and keeps it', () => {
    const fs = new SmallFs(4 * 1024 * 1024);
    const path = join(fs.dir, 'queue.db');
    const big = 'x'.repeat(20_000);
    const jobs = Array.from({ length: 60 }, (_, i) => `job:${String(i).padStart(2, '0')}`);
    try {
      const store = new KVStore(path, 'jobs');
      store.setMany(jobs.map((key) => [key, `${key} ${big}`] as const));
      fs.fill();

      const said = new Map<string, 'removed' | 'kept'>();
      const codes = new Set<string | undefined>();
      for (const [i, key] of jobs.entries()) {
        try {
          const removed = i % 2 === 0 ? store.pop(key) !== undefined : store.delete(key);
          said.set(key, removed ? 'removed' : 'kept');
        } catch (err) {
          codes.add((err as { code?: string }).code);
          said.set(key, 'kept');
        }
      }
      store.close();
      // The disk was full enough for some calls to fail, or this test proves nothing.
      expect(codes).toEqual(new Set(['ERR_KV_FULL']));

      fs.free();
      const reopened = new KVStore(path, 'jobs');
      for (const key of jobs) expect([key, reopened.has(key)]).toEqual([key, said.get(key) === 'kept']);
      // A job the queue kept is handed out once, now that there is room.
      const kept = jobs.filter((key) => said.get(key) === 'kept');
      expect(kept.length).toBeGreaterThan(0);
      for (const key of kept) expect(reopened.pop(key)).toBe(`${key} ${big}`);
      for (const key of kept) expect(reopened.pop(key)).toBeUndefined();
      reopened.close();
      expect(withRaw(path, (db) => db.pragma('integrity_check', { simple: true }))).toBe('ok');
    } finally {
      fs.dispose();
    }
  });
});
