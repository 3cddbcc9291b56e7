import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { BetterSQLiteSession } from 'drizzle-orm/better-sqlite3/session';
import { BaseSQLiteDatabase, SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import { KVError, KVTypeError, isKVError } from '../core/errors';
import { toKVError } from './errors';
import { type DatabaseFile, assertDatabasePath, explainOpenFailure, keepSideFilesWritable } from './file-checks';
import type { ResolvedDatabaseOptions } from '../core/options';
import type { ConnectionSource } from './sqlite-client';
import { describe } from '../core/describe';
import { checkpointIfLarge, limitWal } from './wal';

export type { ConnectionSource };

/**
 * Whether `value` is an app's connection rather than a path. Judged by its
 * shape, not `instanceof`: the app's better-sqlite3 may be another copy (or
 * another major version) than this library's.
 */
export function isConnectionSource(value: unknown): value is ConnectionSource {
  if (typeof value !== 'object' || value === null) return false;
  const client = ('$client' in value ? (value as { $client: unknown }).$client : value) as Record<string, unknown> | null;
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof client['open'] === 'boolean' &&
    ['prepare', 'pragma', 'transaction', 'exec'].every((m) => typeof client[m] === 'function')
  );
}

const checkedClients = new WeakSet<Database.Database>();

/**
 * Shares an app's connection without changing its settings: the app owns
 * them. The library needs no pragma to be correct; it does best with WAL
 * (readers and the writer do not wait for each other) and a busy timeout
 * (writers wait for the lock instead of failing at once with ERR_KV_BUSY).
 * Missing ones are reported once per connection, as a process warning.
 */
export function borrowConnection(source: ConnectionSource): Connection {
  // The shape was checked by isConnectionSource; the driver's own type is this library's view of it.
  const client = ('$client' in source ? source.$client : source) as Database.Database;
  if (!client.open) throw new KVError('ERR_KV_CLOSED', 'the connection given to drizzle-kv is closed');
  if (!checkedClients.has(client)) {
    let mode: unknown;
    let timeout: unknown;
    try {
      mode = client.pragma('journal_mode', { simple: true });
      timeout = client.pragma('busy_timeout', { simple: true });
    } catch (err) {
      // The app's file is not a database, or is damaged: the same errors as a file drizzle-kv opens itself.
      throw toKVError(err, `open ${client.name}`);
    }
    checkedClients.add(client);
    const advice: string[] = [];
    if (!client.memory && mode !== 'wal') advice.push(`journal_mode is ${String(mode)}, not wal (readers and writers will wait for each other)`);
    if (timeout === 0) advice.push('busy_timeout is 0 (a write fails at once with ERR_KV_BUSY when another connection holds the lock)');
    if (advice.length > 0) {
      process.emitWarning(`drizzle-kv shares a connection whose settings it leaves alone: ${advice.join('; ')}`, {
        code: 'DRIZZLE_KV_CONNECTION_SETTINGS',
        detail: "Set PRAGMA journal_mode = WAL and a busy timeout (new Database(path, { timeout })) on the app's connection.",
      });
    }
  }
  return new Connection(client, client.readonly, false);
}

/** What an argument that is neither a path nor a better-sqlite3 connection is, for the message that refuses it. */
function describeSource(value: unknown): string {
  if (typeof value !== 'object' || value === null || !('$client' in value)) return describe(value);
  // A Drizzle database: name the driver under it by its client's class (Pool, Client, …).
  const client = (value as { $client: unknown }).$client;
  return `a Drizzle database on another driver (its client is ${describe(client)})`;
}

/**
 * better-sqlite3, the app's peer dependency, loaded at the first open of a
 * file rather than with the package: a process that never opens one (or
 * only borrows an app's connection) never loads the native addon.
 */
function driver(): typeof Database {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, by design
  return require('better-sqlite3') as typeof Database;
}

/**
 * The driver's absence or a native addon not built for this Node.js, said as
 * such with the fix, instead of the loader's words ("Could not locate the
 * bindings file") under an open error that suggests checking the path.
 */
function driverProblem(err: unknown): KVError | undefined {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (code === 'MODULE_NOT_FOUND' && text.includes("'better-sqlite3'")) {
    return new KVError('ERR_KV_NO_DRIVER', 'the better-sqlite3 driver is not installed; install it beside drizzle-kv: npm install better-sqlite3', {
      cause: err,
    });
  }
  if (/Could not locate the bindings file|NODE_MODULE_VERSION|better_sqlite3\.node/.test(text) || code === 'ERR_DLOPEN_FAILED') {
    return new KVError(
      'ERR_KV_NO_DRIVER',
      `better-sqlite3 is installed, but its native addon is not built for this Node.js (${process.version}); ` +
        'build it with: npm rebuild better-sqlite3 (it compiles from source when no prebuilt addon can be downloaded; that needs python3, make and a C++ compiler)',
      { cause: err },
    );
  }
  return undefined;
}

/** `:memory:`, or a file path with `~` expanded. */
export function resolveDatabasePath(path: unknown): string {
  if (typeof path !== 'string' || path === '') {
    throw new KVTypeError(
      'ERR_KV_INVALID_ARGUMENT',
      `expected a database file path, a better-sqlite3 Database or a Drizzle database made on one (drizzle-orm/better-sqlite3), got ${describeSource(path)}`,
    );
  }
  if (path === ':memory:') return path;
  // node:os is loaded only when needed: most paths have no ~, and every module costs a CLI process at start.
  if (path === '~') return process.getBuiltinModule('node:os').homedir();
  if (path.startsWith('~/')) return join(process.getBuiltinModule('node:os').homedir(), path.slice(2));
  return resolve(path);
}

/**
 * A Drizzle database on `client`, as `drizzle({ client })` makes it, without
 * loading the module that holds `drizzle()`: that module loads better-sqlite3
 * itself, at once, for the overloads that open a file.
 */
function drizzleOn(client: Database.Database): BetterSQLite3Database {
  const dialect = new SQLiteSyncDialect();
  const db = new BaseSQLiteDatabase('sync', dialect, new BetterSQLiteSession(client, dialect, undefined, {}), undefined);
  return Object.assign(db, { $client: client }) as unknown as BetterSQLite3Database;
}

/**
 * One SQLite connection: the better-sqlite3 handle, the Drizzle database on
 * top of it, and the transactions every write goes through.
 */
export class Connection {
  /** The driver's handle. */
  readonly client: Database.Database;
  /** Drizzle over {@link Connection.client}; repositories build their queries on it. */
  readonly db: BetterSQLite3Database;
  /** Whether the connection was opened read-only. */
  readonly readonly: boolean;
  /** Whether this library opened the connection (and so closes it); `false` for an app's own. */
  readonly owned: boolean;

  constructor(client: Database.Database, readonly: boolean, owned = true) {
    this.client = client;
    this.db = drizzleOn(client);
    this.readonly = readonly;
    this.owned = owned;
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction: the write lock is taken before the
   * first read, so a read-modify-write can never fail half-way with
   * SQLITE_BUSY (as a DEFERRED one does when another process wrote between
   * its read and its write). Nested calls become savepoints.
   *
   * `fn` must be synchronous. A promise returned by it (an async callback)
   * is refused and what ran before its first `await` is rolled back, since
   * the rest would run outside the transaction.
   */
  immediate<T>(fn: () => T): T {
    return this.client
      .transaction(() => {
        const result = fn();
        if (typeof (result as { then?: unknown } | null)?.then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, () => undefined);
          throw new KVTypeError(
            'ERR_KV_INVALID_ARGUMENT',
            'transaction: the callback returned a promise; transactions are synchronous, so it was rolled back',
          );
        }
        return result;
      })
      .immediate();
  }

  /**
   * Runs a caller's callback in an IMMEDIATE transaction (the public
   * `transaction()` methods). What the callback throws is the caller's and
   * passes unchanged, even a driver error from the app's own query; only
   * failures of BEGIN/COMMIT themselves become errors of this library.
   */
  callerTransaction<T>(fn: () => T, operation: string): T {
    let thrown: { error: unknown } | undefined;
    try {
      return this.immediate(() => {
        try {
          return fn();
        } catch (error) {
          thrown = { error };
          throw error;
        }
      });
    } catch (err) {
      if (thrown !== undefined && thrown.error === err) throw err;
      throw toKVError(err, operation);
    }
  }

  /** Runs reads in one DEFERRED transaction: one consistent snapshot, no write lock. */
  snapshot<T>(fn: () => T): T {
    return this.client.transaction(fn).deferred();
  }

  /**
   * Housekeeping after a write transaction committed (called with culls,
   * not per write): keeps the -wal file of a file this library opened within
   * its bound. An app's own connection is left to the app.
   */
  maintain(): void {
    if (this.owned && !this.readonly && !this.client.memory) checkpointIfLarge(this.client);
  }

  /** Closes the driver's handle, unless it belongs to the app. */
  close(): void {
    if (this.owned && this.client.open) this.client.close();
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `fn`, retrying while SQLite reports SQLITE_BUSY, for up to `timeout` ms.
 *
 * Switching a new file to WAL needs an exclusive lock, and SQLite answers
 * SQLITE_BUSY at once, without calling the busy handler, when another
 * process is switching or recovering the same file. This happens when many
 * processes open a fresh file together; waiting a moment and retrying is
 * the remedy.
 */
function retryWhileBusy(timeout: number, fn: () => void): void {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      fn();
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw err;
      Atomics.wait(sleeper, 0, 0, 2 + Math.random() * 8);
    }
  }
}

/**
 * Opens `path` and applies the connection settings kv-cache uses, on every
 * connection (some pragmas are per connection, not stored in the file):
 * WAL (readers never wait for the writer), `synchronous=NORMAL` (no fsync per
 * commit; survives process crashes, may lose the last commits on power loss)
 * or `FULL` if asked,
 * a busy timeout and a 128 MiB page cache; memory-mapped I/O only if asked
 * (`mmapSize`), since a mapped file shrunk by another process is a SIGBUS.
 *
 * With `waitInDriver` false, the driver's busy timeout is 0: a locked file
 * is SQLITE_BUSY at once, for callers that wait without blocking the thread.
 * (The switch of a new file to WAL still waits up to `timeout`, at open.)
 *
 * Refuses a path that is not a regular file (a directory, a FIFO, a device,
 * a socket) before SQLite opens it, and a file that is not an SQLite
 * database before anything is written to it. A failure caused by the file
 * system around the file (read-only, full, a folder that does not allow the
 * `-wal` and `-shm` files) says so.
 */
export function openConnection(path: string, options: ResolvedDatabaseOptions, waitInDriver = true): Connection {
  const { readonly, timeout, durability, mmapSize } = options;
  let client: Database.Database | undefined;
  let file: DatabaseFile | undefined;
  try {
    if (path !== ':memory:') file = assertDatabasePath(path);
    if (!readonly && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    // Without waitInDriver (the async stores), the driver's busy handler never sleeps: they wait for locks with timers.
    client = new (driver())(path, { readonly, fileMustExist: readonly, timeout: waitInDriver ? timeout : 0 });
    const db = client;
    retryWhileBusy(timeout, () => {
      // A read first: on a file that is not SQLite it fails before any write (WAL switch) happens.
      const mode = db.pragma('journal_mode', { simple: true });
      if (!readonly && mode !== 'wal' && path !== ':memory:') {
        db.pragma('page_size = 4096'); // only takes effect on a new, empty file
        db.pragma('journal_mode = WAL');
      }
    });
    client.pragma(durability === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
    client.pragma('cache_size = -131072');
    if (!readonly && path !== ':memory:') limitWal(client);
    if (mmapSize > 0) client.pragma(`mmap_size = ${mmapSize}`);
    return new Connection(client, readonly);
  } catch (err) {
    client?.close();
    const mapped = driverProblem(err) ?? explainOpenFailure(err, path, readonly, file !== undefined) ?? toKVError(err, `open ${path}`);
    if (isKVError(mapped)) throw mapped;
    // File-system errors (a parent that is a file, no permission…) and the driver's own TypeErrors.
    throw new KVError('ERR_KV_CANT_OPEN', `open ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    // The first read above created the -wal and -shm files if they were missing, with the file's bits.
    if (file !== undefined) keepSideFilesWritable(path, file);
  }
}
