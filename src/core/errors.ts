/**
 * Every error this library throws carries one of these stable codes, so
 * callers can branch on `err.code` instead of parsing messages.
 *
 * | code | meaning | what the caller can do |
 * |---|---|---|
 * | `ERR_KV_CLOSED` | the store or database was closed | open a new one |
 * | `ERR_KV_INVALID_NAME` | a store name is not `[A-Za-z_][A-Za-z0-9_]*`, is reserved, or differs only in case from an existing store | fix the name |
 * | `ERR_KV_INVALID_KEY` | a key is not a well-formed string | fix the key |
 * | `ERR_KV_INVALID_VALUE` | the serializer cannot represent the value faithfully | change the value or the serializer |
 * | `ERR_KV_INVALID_TTL` | a TTL is not a positive number of seconds | fix the TTL |
 * | `ERR_KV_INVALID_OPTION` | an option is unknown or of the wrong type | fix the option |
 * | `ERR_KV_INVALID_ARGUMENT` | another argument is wrong (e.g. an async transaction callback) | fix the call |
 * | `ERR_KV_UNKEYABLE_ARGUMENT` | scache cannot derive a deterministic key from an argument | pass a `keyFunc` |
 * | `ERR_KV_NOT_A_NUMBER` | `incr`/`decr` on a value that is not a number | — |
 * | `ERR_KV_DESERIALIZE` | a stored value could not be decoded | inspect the row (the message names the key and serializer); overwrite it once understood |
 * | `ERR_KV_FORMAT_TOO_NEW` | the file was written by a newer version of this library | upgrade the library |
 * | `ERR_KV_MIGRATION_PENDING` | a read-only open found a file that needs migrating | open it writable once |
 * | `ERR_KV_NO_SUCH_STORE` | a read-only open named a store the database does not have, or the store was dropped under an open handle | open it again (writable) |
 * | `ERR_KV_SERIALIZER_MISMATCH` | the store was written with another serializer | open it with that serializer |
 * | `ERR_KV_LEGACY_TABLE` | the table was written by kv-cache (Python) and has not been adopted | adopt it with `KVDatabase#adoptKvCache` |
 * | `ERR_KV_SCHEMA_MISMATCH` | with `tables: 'external'`, the app's table differs from `kvTable(name)` (the message lists how) | fix the app's migration |
 * | `ERR_KV_FOREIGN_TABLE` | a table of that name exists but is not a store of this library | choose another name |
 * | `ERR_KV_BUSY` | the write lock could not be had within the busy timeout | retry, or raise `timeout` |
 * | `ERR_KV_NOT_A_DATABASE` | the file is not an SQLite database | check the path |
 * | `ERR_KV_CORRUPT` | the database file is damaged | restore or delete it |
 * | `ERR_KV_FULL` | the disk (or the file's size limit) is full, or a write would take a store with eviction `'none'` over its limit | free space (or delete entries, or raise the limit), then retry |
 * | `ERR_KV_LIMITS_MISMATCH` | a store was opened with other limits than it records | omit `limits` (the recorded ones apply), or change them with `setLimits` |
 * | `ERR_KV_IO` | the operating system failed a read or write of the file (EIO, a read-only file system…) | check the disk and the file system |
 * | `ERR_KV_READONLY` | a write on a read-only file or connection | open it writable |
 * | `ERR_KV_CANT_OPEN` | the file cannot be opened (a directory, no permission) | check the path |
 * | `ERR_KV_NO_DRIVER` | better-sqlite3 is not installed, or its native addon is not built for this Node.js | install or rebuild it, as the message says |
 * | `ERR_KV_UNAVAILABLE` | the database server cannot be reached, or dropped the connection (restarting, shutting down) | retry later: the store reconnects by itself |
 * | `ERR_KV_TIMEOUT` | the server cancelled the statement (a statement timeout), or no connection was free in time | retry, or raise the timeout |
 * | `ERR_KV_SQLITE` | any other error from SQLite | see `cause` |
 * | `ERR_KV_DRIVER` | any other error from a server's driver (PostgreSQL, libSQL) | see `cause` (its SQLSTATE or code) |
 */
export type KVErrorCode =
  | 'ERR_KV_CLOSED'
  | 'ERR_KV_INVALID_NAME'
  | 'ERR_KV_INVALID_KEY'
  | 'ERR_KV_INVALID_VALUE'
  | 'ERR_KV_INVALID_TTL'
  | 'ERR_KV_INVALID_OPTION'
  | 'ERR_KV_INVALID_ARGUMENT'
  | 'ERR_KV_UNKEYABLE_ARGUMENT'
  | 'ERR_KV_NOT_A_NUMBER'
  | 'ERR_KV_DESERIALIZE'
  | 'ERR_KV_FORMAT_TOO_NEW'
  | 'ERR_KV_MIGRATION_PENDING'
  | 'ERR_KV_NO_SUCH_STORE'
  | 'ERR_KV_SERIALIZER_MISMATCH'
  | 'ERR_KV_LEGACY_TABLE'
  | 'ERR_KV_SCHEMA_MISMATCH'
  | 'ERR_KV_FOREIGN_TABLE'
  | 'ERR_KV_BUSY'
  | 'ERR_KV_NOT_A_DATABASE'
  | 'ERR_KV_CORRUPT'
  | 'ERR_KV_FULL'
  | 'ERR_KV_LIMITS_MISMATCH'
  | 'ERR_KV_IO'
  | 'ERR_KV_READONLY'
  | 'ERR_KV_CANT_OPEN'
  | 'ERR_KV_NO_DRIVER'
  | 'ERR_KV_UNAVAILABLE'
  | 'ERR_KV_TIMEOUT'
  | 'ERR_KV_SQLITE'
  | 'ERR_KV_DRIVER';

/** Options accepted by every error class of this library. */
export interface KVErrorOptions {
  /** The underlying error, typically the driver's `SqliteError`. */
  cause?: unknown;
}

/**
 * Marks every error of this library, whatever its class and whichever
 * installed copy of the library threw it: `Symbol.for` is shared by every
 * copy in a process, where classes are not.
 */
const BRAND = Symbol.for('drizzle-kv.error');

function brand(err: Error, code: KVErrorCode): void {
  Object.defineProperty(err, BRAND, { value: code });
}

/**
 * An operational error: the store is closed, the file is busy, too new,
 * damaged, full… The driver's error, if any, is kept as `cause`.
 *
 * `err instanceof KVError` holds for every error of this library, also a
 * {@link KVTypeError} or {@link KVRangeError} (which are a `TypeError` and a
 * `RangeError` too) and errors thrown by another installed copy of it: one
 * check catches them all.
 */
export class KVError extends Error {
  /** Stable machine-readable code; see {@link KVErrorCode}. */
  readonly code: KVErrorCode;

  constructor(code: KVErrorCode, message: string, options?: KVErrorOptions) {
    super(message, options);
    this.name = 'KVError';
    this.code = code;
    brand(this, code);
  }

  /** Recognises every error of this library by its brand; subclasses keep the ordinary check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== KVError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isKVError(value);
  }
}

/** An argument or option of the wrong type. Carries a {@link KVErrorCode}; also `instanceof KVError`. */
export class KVTypeError extends TypeError {
  /** Stable machine-readable code; see {@link KVErrorCode}. */
  readonly code: KVErrorCode;

  constructor(code: KVErrorCode, message: string, options?: KVErrorOptions) {
    super(message, options);
    this.name = 'KVTypeError';
    this.code = code;
    brand(this, code);
  }
}

/** An argument or option of the right type but out of range. Carries a {@link KVErrorCode}; also `instanceof KVError`. */
export class KVRangeError extends RangeError {
  /** Stable machine-readable code; see {@link KVErrorCode}. */
  readonly code: KVErrorCode;

  constructor(code: KVErrorCode, message: string, options?: KVErrorOptions) {
    super(message, options);
    this.name = 'KVRangeError';
    this.code = code;
    brand(this, code);
  }
}

/** Any error thrown by this library. */
export type AnyKVError = KVError | KVTypeError | KVRangeError;

/**
 * Whether `err` was thrown by this library (and so has a stable `code`),
 * by this copy of it or another one installed beside it.
 *
 * @example
 * ```ts
 * try { store.set('k', () => 1); } catch (err) { if (isKVError(err)) console.log(err.code); }
 * ```
 */
export function isKVError(err: unknown): err is AnyKVError {
  return typeof err === 'object' && err !== null && BRAND in err;
}

