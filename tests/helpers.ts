import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const dirs: string[] = [];

/** A fresh temporary folder, removed after the test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-test-'));
  dirs.push(dir);
  return dir;
}

/** A path for a new database file in a fresh temporary folder. */
export function tempDb(name = 'cache.db'): string {
  return join(tempDir(), name);
}

afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A clock tests move by hand, so TTL tests never sleep. */
export class FakeClock {
  constructor(public time = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.time;
  }
  advance(seconds: number): void {
    this.time += seconds * 1000;
  }
}

/** Opens `path` with the raw driver, runs `fn`, closes. For looking under the store. */
export function withRaw<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` of a file. */
export function integrity(path: string): string {
  return withRaw(path, (db) => db.pragma('integrity_check', { simple: true }) as string);
}

/** The error `fn` throws (fails the test if it throws nothing). */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the call to throw');
}

/** A function that counts its calls (named `work`, as scache tests expect). */
export function counted<A extends unknown[], R>(impl: (...args: A) => R) {
  const fn = Object.assign(
    function work(...args: A): R {
      fn.calls++;
      return impl(...args);
    },
    { calls: 0 },
  );
  return fn;
}
