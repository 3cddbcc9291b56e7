// SQLite's errors, as better-sqlite3 reports them, classified into the library's typed errors.
import { KVError, KVRangeError, type KVErrorCode, isKVError } from '../core/errors';

/** Whether `err` is SQLite's "no such table" (a table dropped, or bookkeeping not created yet). @internal */
export function isMissingTable(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_ERROR' && /no such table/.test((err as Error).message);
}

/** SQLite result codes (primary part, before any `_EXTENDED` suffix) and what they mean here (libSQL's too). */
export const SQLITE_CODES: Readonly<Record<string, KVErrorCode>> = {
  SQLITE_BUSY: 'ERR_KV_BUSY',
  SQLITE_LOCKED: 'ERR_KV_BUSY',
  SQLITE_NOTADB: 'ERR_KV_NOT_A_DATABASE',
  SQLITE_CORRUPT: 'ERR_KV_CORRUPT',
  SQLITE_FULL: 'ERR_KV_FULL',
  SQLITE_IOERR: 'ERR_KV_IO',
  SQLITE_TOOBIG: 'ERR_KV_INVALID_VALUE',
  SQLITE_READONLY: 'ERR_KV_READONLY',
  SQLITE_CANTOPEN: 'ERR_KV_CANT_OPEN',
};

/**
 * Turns a driver error into an error of this library that names the
 * operation, keeping the driver's error as `cause`. Anything else (errors of
 * this library, errors thrown by a caller's own callback) passes unchanged.
 *
 * @internal
 */
export function toKVError(err: unknown, operation: string): unknown {
  // better-sqlite3's word for a connection closed under the store (an app closing its own connection).
  // (Matched by message, not instanceof: the driver's TypeError may come from another realm.)
  if ((err as Error | null)?.message === 'The database connection is not open') {
    return new KVError('ERR_KV_CLOSED', `${operation}: the database connection is closed`, { cause: err });
  }
  // better-sqlite3 refuses to bind what exceeds SQLite's length limit before SQLite sees it, with a plain
  // RangeError (matched by message, as above: it may come from another realm).
  if ((err as Error | null)?.message === 'The bound string, buffer, or bigint is too big') {
    return new KVRangeError(
      'ERR_KV_INVALID_VALUE',
      `${operation}: the key or the encoded value is larger than SQLite's limit of 1,000,000,000 bytes; nothing was written`,
      { cause: err },
    );
  }
  if (isMissingTable(err)) {
    return new KVError('ERR_KV_NO_SUCH_STORE', `${operation}: ${(err as Error).message}`, { cause: err });
  }
  const driverCode = (err as { code?: unknown } | null)?.code;
  if (isKVError(err) || typeof driverCode !== 'string' || !driverCode.startsWith('SQLITE_')) return err;
  const primary = /^SQLITE_[A-Z]+/.exec(driverCode)?.[0] ?? driverCode;
  const code = SQLITE_CODES[primary] ?? 'ERR_KV_SQLITE';
  return new KVError(code, `${operation}: ${(err as Error).message} (${driverCode})`, { cause: err });
}
