// PostgreSQL's errors, as node-postgres reports them, classified into the library's typed errors.
import { KVError, type KVErrorCode, isKVError } from '../core/errors';

/** SQLSTATEs (whole, or by their two-character class) and what they mean here. */
const SQLSTATES: Readonly<Record<string, KVErrorCode>> = {
  '40001': 'ERR_KV_BUSY', // serialization_failure
  '40P01': 'ERR_KV_BUSY', // deadlock_detected
  '55P03': 'ERR_KV_BUSY', // lock_not_available
  '53100': 'ERR_KV_FULL', // disk_full
  '25006': 'ERR_KV_READONLY', // read_only_sql_transaction (a standby, or default_transaction_read_only)
  '3D000': 'ERR_KV_CANT_OPEN', // invalid_catalog_name: no such database
  '28P01': 'ERR_KV_CANT_OPEN', // invalid_password
  '28000': 'ERR_KV_CANT_OPEN', // invalid_authorization_specification
  '42501': 'ERR_KV_CANT_OPEN', // insufficient_privilege
  '57014': 'ERR_KV_TIMEOUT', // query_canceled: statement_timeout, or a cancel request
  '57P01': 'ERR_KV_UNAVAILABLE', // admin_shutdown
  '57P02': 'ERR_KV_UNAVAILABLE', // crash_shutdown
  '57P03': 'ERR_KV_UNAVAILABLE', // cannot_connect_now: starting up, shutting down
  XX001: 'ERR_KV_CORRUPT', // data_corrupted
  XX002: 'ERR_KV_CORRUPT', // index_corrupted
  '42P01': 'ERR_KV_NO_SUCH_STORE', // undefined_table: the store's table is gone
  '08': 'ERR_KV_UNAVAILABLE', // connection_exception
};

/** Socket errors: the server is down, restarting, or unreachable. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres's own words (it has no codes for these), matched by message. */
const DRIVER_MESSAGES: readonly [RegExp, KVErrorCode][] = [
  [/Connection terminated|connection is closed|Client has encountered a connection error/i, 'ERR_KV_UNAVAILABLE'],
  [/timeout exceeded when trying to connect|Connection terminated due to connection timeout|Query read timeout/i, 'ERR_KV_TIMEOUT'],
  [/Cannot use a pool after calling end|Client was closed and is not queryable/i, 'ERR_KV_CLOSED'],
];

/** The driver error under `err`: drizzle wraps query errors and keeps the driver's as `cause`. */
function driverError(err: unknown): { code?: unknown; message?: unknown } | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string') return current as { code?: unknown; message?: unknown };
    current = (current as { cause?: unknown }).cause;
  }
  return typeof err === 'object' && err !== null ? (err as { message?: unknown }) : undefined;
}

/** The code of a driver error, or `undefined` when it is not one this module knows. */
function codeOf(err: unknown): KVErrorCode | undefined {
  const found = driverError(err);
  if (found === undefined) return undefined;
  const { code, message } = found;
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code)) return 'ERR_KV_UNAVAILABLE';
    const mapped = SQLSTATES[code] ?? (/^[0-9A-Z]{5}$/.test(code) ? (SQLSTATES[code.slice(0, 2)] ?? 'ERR_KV_DRIVER') : undefined);
    if (mapped !== undefined) return mapped;
  }
  if (typeof message === 'string') {
    for (const [pattern, mapped] of DRIVER_MESSAGES) if (pattern.test(message)) return mapped;
  }
  return undefined;
}

/**
 * Turns a node-postgres error into an error of this library that names the
 * operation, keeping the driver's error as `cause` (its SQLSTATE stays on
 * `cause.code`). Errors of this library and anything that is not a driver
 * error (a caller's own exception) pass unchanged.
 */
export function classifyPgError(err: unknown, operation: string): unknown {
  if (isKVError(err)) return err;
  const code = codeOf(err);
  if (code === undefined) return err;
  const found = driverError(err);
  const sqlstate = typeof found?.code === 'string' ? ` (${found.code})` : '';
  const message = err instanceof Error ? err.message : String(err);
  return new KVError(code, `${operation}: ${message}${sqlstate}`, { cause: err });
}

/** Whether `err` is a NOT NULL violation: how a guarded upsert is refused (see the repository). */
export function isNotNullViolation(err: unknown): boolean {
  return driverError(err)?.code === '23502';
}
