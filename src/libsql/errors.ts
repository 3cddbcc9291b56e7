/**
 * libSQL's errors, as `@libsql/client` reports them on a `file:` database
 * and over a sqld server, classified into the library's typed errors.
 *
 * - SQLite's result codes (`SQLITE_BUSY`…) mean what they mean on the sync
 *   SQLite engine (the same table as `src/sqlite/errors.ts`).
 * - A server that cannot be reached, or that dropped the connection
 *   (`fetch failed`, `ECONNREFUSED`, a closed WebSocket, a Hrana stream that
 *   expired…), is `ERR_KV_UNAVAILABLE`.
 * - Any other error of the driver is `ERR_KV_DRIVER`.
 *
 * The driver's error is kept as `cause`; errors of this library and of a
 * caller's own code pass unchanged.
 */
import { KVError, KVRangeError, KVTypeError, isKVError } from '../core/errors';
import { SQLITE_CODES } from '../sqlite/errors';

/** SQLite's primary result codes by number, for the errors libsql's native binding reports as text (`…: 14`). */
const SQLITE_NUMBERS: Readonly<Record<number, string>> = {
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  26: 'SQLITE_NOTADB',
};

/** The client's own codes: the handle was closed under the call. */
const CLOSED_CODES = new Set(['CLIENT_CLOSED', 'TRANSACTION_CLOSED']);

/** The client's codes for a server it cannot talk to (Hrana over WebSocket or HTTP). */
const TRANSPORT_CODES = new Set(['HRANA_WEBSOCKET_ERROR', 'HRANA_CLOSED_ERROR', 'HRANA_PROTO_ERROR', 'STREAM_EXPIRED', 'STREAM_NOT_FOUND']);

/** Node's codes for a network failure (sockets, DNS) and undici's (fetch). */
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|EHOSTUNREACH|EHOSTDOWN|ENETUNREACH|ENETDOWN|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/;

/** The client's codes for a URL or configuration it refuses. */
const CONFIG_CODES = new Set(['URL_INVALID', 'URL_SCHEME_NOT_SUPPORTED', 'URL_PARAM_NOT_SUPPORTED', 'ENCRYPTION_KEY_NOT_SUPPORTED']);

type ErrorLike = { code?: unknown; message?: unknown; name?: unknown; cause?: unknown; status?: unknown } | null | undefined;

const codeOf = (err: unknown): string | undefined => {
  const code = (err as ErrorLike)?.code;
  return typeof code === 'string' ? code : undefined;
};
const messageOf = (err: unknown): string => {
  const message = (err as ErrorLike)?.message;
  return typeof message === 'string' ? message : String(err);
};

/** `err` and its causes, outermost first (at most a few levels: drivers wrap once or twice). */
function chain(err: unknown): unknown[] {
  const errors: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && errors.length < 6 && !errors.includes(e); e = (e as ErrorLike)?.cause) errors.push(e);
  return errors;
}

/** Whether `err` is one of `@libsql/client`'s errors (by shape: the app's copy of the client may not be this library's). */
function isLibsqlError(err: unknown): boolean {
  const name = (err as ErrorLike)?.name;
  return (name === 'LibsqlError' || name === 'LibsqlBatchError') && codeOf(err) !== undefined;
}

/** Whether `err` is SQLite's "no such table": a store dropped, or bookkeeping not created yet. */
export function isMissingTable(err: unknown): boolean {
  const code = codeOf(err);
  return (code === 'SQLITE_ERROR' || code === 'SQLITE_UNKNOWN') && /no such table/.test(messageOf(err));
}

/** Whether `err` is SQLite's "database is locked" (another connection or process holds the write lock). */
export function isBusy(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) && isLibsqlError(err);
}

/** Whether `err` is a constraint failure: a guarded upsert refused (see `src/sqlite/queries.ts`), among others. */
export function isConstraint(err: unknown): boolean {
  return codeOf(err)?.startsWith('SQLITE_CONSTRAINT') === true;
}

/** Whether every connection of the client is held by an open transaction (`concurrency: 1`, or `:memory:`). */
export function isPoolExhausted(err: unknown): boolean {
  return codeOf(err) === 'TRANSACTION_ACTIVE' && isLibsqlError(err);
}

/** Whether the HTTP client was closed under the call (it reports that as a Hrana `ClosedError`, code `UNKNOWN`). */
function closedByApp(err: unknown): boolean {
  return chain(err).some((e) => /^Client was manually closed$|: Client was manually closed$/.test(messageOf(e)));
}

/** Whether the error says the server cannot be reached or went away: a refused connection, a fetch that failed, a closed socket. */
function isTransport(err: unknown): boolean {
  return chain(err).some((e) => {
    const code = codeOf(e);
    if (code !== undefined && (TRANSPORT_CODES.has(code) || NETWORK_CODES.test(code))) return true;
    // undici's fetch() rejects with a TypeError "fetch failed" whose cause says why (or "bad port", for a blocked one).
    if ((e as ErrorLike)?.name === 'TypeError' && messageOf(e) === 'fetch failed') return true;
    // The Hrana client's own classes, when they reach us unwrapped.
    const name = (e as ErrorLike)?.name;
    return name === 'WebSocketError' || name === 'ClosedError';
  });
}

/** The HTTP status a sqld server answered with (`SERVER_ERROR`), if any. */
function httpStatus(err: unknown): number | undefined {
  for (const e of chain(err)) {
    const status = (e as ErrorLike)?.status;
    if (typeof status === 'number') return status;
  }
  return undefined;
}

/**
 * libsql's native binding reports a file it cannot open as a plain Error,
 * `ConnectionFailed("Unable to open connection to local database …: 14")`,
 * with SQLite's result code as a number at the end.
 */
function nativeOpenCode(err: unknown): string | undefined {
  const match = /^ConnectionFailed\(.*: (\d+)"?\)$/s.exec(messageOf(err));
  if (match === null) return undefined;
  return SQLITE_NUMBERS[Number(match[1]) & 0xff] ?? 'SQLITE_ERROR';
}

/** Without a password or token, for messages. */
function redact(text: string): string {
  return text.replace(/(authToken=)[^&\s"]+/g, '$1***').replace(/\/\/([^:@/\s]*):[^@/\s]*@/g, '//$1:***@');
}

/**
 * Turns a driver error into an error of this library that names the
 * operation, keeping the driver's error as `cause`. Errors of this library,
 * and errors that are not the driver's (a caller's own), pass unchanged.
 *
 * @internal
 */
export function toKVError(err: unknown, operation: string): unknown {
  if (isKVError(err)) return err;
  const code = codeOf(err);
  const message = redact(messageOf(err));
  if ((code !== undefined && CLOSED_CODES.has(code) && isLibsqlError(err)) || closedByApp(err)) {
    return new KVError('ERR_KV_CLOSED', `${operation}: the libSQL client is closed (${message})`, { cause: err });
  }
  if (isMissingTable(err)) return new KVError('ERR_KV_NO_SUCH_STORE', `${operation}: ${message}`, { cause: err });
  if (isTransport(err)) {
    return new KVError('ERR_KV_UNAVAILABLE', `${operation}: the libSQL server cannot be reached (${describeTransport(err)})`, { cause: err });
  }
  const openCode = nativeOpenCode(err);
  if (openCode !== undefined) {
    return new KVError(SQLITE_CODES[openCode] ?? 'ERR_KV_DRIVER', `${operation}: ${message} (${openCode})`, { cause: err });
  }
  if (!isLibsqlError(err)) return err;
  const primary = (code as string).startsWith('SQLITE_') ? (/^SQLITE_[A-Z]+/.exec(code as string)?.[0] ?? code) : code;
  const mapped = SQLITE_CODES[primary as string];
  if (mapped === 'ERR_KV_INVALID_VALUE') {
    return new KVRangeError('ERR_KV_INVALID_VALUE', `${operation}: the key or the encoded value is larger than libSQL accepts; nothing was written (${message})`, {
      cause: err,
    });
  }
  if (mapped !== undefined) return new KVError(mapped, `${operation}: ${message}`, { cause: err });
  if (code === 'TRANSACTION_ACTIVE') {
    return new KVError('ERR_KV_BUSY', `${operation}: every connection of the libSQL client is held by an open transaction (${message})`, { cause: err });
  }
  if (code !== undefined && CONFIG_CODES.has(code)) {
    return new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: ${message}`, { cause: err });
  }
  if (code === 'SERVER_ERROR') {
    const status = httpStatus(err);
    if (status === 401 || status === 403) {
      return new KVError('ERR_KV_CANT_OPEN', `${operation}: the libSQL server refused the credentials (HTTP ${status})`, { cause: err });
    }
    if (status === undefined || status >= 500) {
      return new KVError('ERR_KV_UNAVAILABLE', `${operation}: the libSQL server failed the request (${message})`, { cause: err });
    }
  }
  return new KVError('ERR_KV_DRIVER', `${operation}: ${message}`, { cause: err });
}

/** What a transport failure was, from the innermost error that says (`ECONNREFUSED 127.0.0.1:1`, `bad port`). */
function describeTransport(err: unknown): string {
  const errors = chain(err);
  const inner = errors[errors.length - 1];
  const code = codeOf(inner);
  const text = redact(messageOf(inner));
  return code !== undefined && !text.includes(code) ? `${code}: ${text}` : text;
}
