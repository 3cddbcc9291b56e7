/**
 * What `openStore(source)` and `openDatabase(source)` accept, turned into
 * one libSQL client: an app's own `@libsql/client` client (or the Drizzle
 * database made on one), used as it is and never closed here; or a URL, for
 * which this library creates a client, and closes it with the store.
 */
import { resolve } from 'node:path';
import type * as Libsql from '@libsql/client' with { 'resolution-mode': 'import' };
import { describe } from '../core/describe';
import { KVError, KVRangeError, KVTypeError } from '../core/errors';
import { toKVError } from './errors';
import { WriteGate, retryBusy } from './gate';

/** An `@libsql/client` client. */
export type Client = Libsql.Client;

/**
 * What a libSQL store or database can be opened on: a URL (`file:`,
 * `libsql:`, `http(s):`, `ws(s):`, or `:memory:`), an `@libsql/client`
 * `Client`, or a Drizzle database made on one (`drizzle(client)` from
 * `drizzle-orm/libsql`, which has it as `$client`).
 */
export type LibsqlSource = string | Client | { readonly $client: Client };

/** The options of the client this library creates for a URL (refused with an app's own client, whose settings the app owns). */
export interface LibsqlClientOptions {
  /** The token a sqld or Turso server requires (`authToken` of `createClient`). */
  authToken?: string;
  /**
   * How long, in milliseconds, a write waits for another connection's (or
   * process's) write lock on a `file:` database before failing with
   * `ERR_KV_BUSY`. Servers queue writers themselves and ignore it.
   * @default 5000
   */
  timeout?: number;
}

/** The names of {@link LibsqlClientOptions}, for option checks. */
export const CLIENT_KEYS = ['authToken', 'timeout'] as const;

const DEFAULT_TIMEOUT = 5000;

/** One client as the engine uses it: the client, whether it is ours to close, and the write queue of its database. */
export interface LibsqlSession {
  readonly client: Client;
  /** `'file'`, `'http'` or `'ws'`. */
  readonly protocol: string;
  /** Whether this library created the client (and so closes it). */
  readonly owned: boolean;
  readonly gate: WriteGate;
  /** How long a call retries a write lock SQLite refused without waiting (see `retryBusy`). */
  readonly timeout: number;
  /** Releases the session: closes the client if this library created it. Closing twice is harmless. */
  close(): void;
}

/**
 * `@libsql/client`, loaded at the first URL this library opens a client
 * for: an app that passes its own client never has it loaded by this
 * library, and a process that never opens a libSQL store never loads it.
 * (Its types are ESM-only under node16 resolution; its CommonJS build loads
 * through require.)
 */
function libsql(): typeof Libsql {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, by design
    return require('@libsql/client') as typeof Libsql;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes('@libsql/client')) {
      throw new KVError('ERR_KV_NO_DRIVER', '@libsql/client is not installed; install it beside drizzle-kv: npm install @libsql/client', { cause: err });
    }
    throw err;
  }
}

/** Whether `value` looks like an `@libsql/client` client (by shape: the app's copy may not be the one this library would load). */
function isClient(value: unknown): value is Client {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    ['execute', 'batch', 'transaction', 'close'].every((m) => typeof c[m] === 'function') &&
    typeof c['protocol'] === 'string' &&
    typeof c['closed'] === 'boolean'
  );
}

/** The client of an app's source (a client, or a Drizzle database on one), or `undefined` if it is not one. */
function clientOf(source: unknown): Client | undefined {
  if (isClient(source)) return source;
  if (typeof source === 'object' && source !== null && '$client' in source) {
    const client = (source as { $client: unknown }).$client;
    if (isClient(client)) return client;
  }
  return undefined;
}

const URL_SCHEME = /^(file|libsql|https?|wss?):/i;

function describeSource(value: unknown): string {
  if (typeof value === 'object' && value !== null && '$client' in value) {
    return `a Drizzle database on another driver (its client is ${describe((value as { $client: unknown }).$client)})`;
  }
  return describe(value);
}

/** Validates the options of a client this library creates (`borrowed`: an app's client, which takes none). */
function clientOptions(options: Record<string, unknown>, borrowed: boolean): { authToken: string | undefined; timeout: number } {
  const given = CLIENT_KEYS.filter((key) => options[key] !== undefined);
  if (borrowed && given.length > 0) {
    throw new KVTypeError(
      'ERR_KV_INVALID_OPTION',
      `option ${JSON.stringify(given[0])} applies to clients drizzle-kv creates from a URL; set it on your own client (createClient) instead`,
    );
  }
  const { authToken, timeout = DEFAULT_TIMEOUT } = options;
  if (authToken !== undefined && typeof authToken !== 'string') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "authToken" must be a string, got ${describe(authToken)}`);
  }
  if (typeof timeout !== 'number') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "timeout" must be a number of milliseconds, got ${describe(timeout)}`);
  }
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > 2 ** 31 - 1) {
    throw new KVRangeError('ERR_KV_INVALID_OPTION', `option "timeout" must be a whole number of milliseconds from 0 to 2^31-1, got ${timeout}`);
  }
  return { authToken, timeout };
}

/** Whether a `file:` URL (or `:memory:`) names an in-memory database: one per client, never shared. */
const isMemory = (url: string): boolean => url === ':memory:' || /^file::memory:/i.test(url);

/** The absolute path a `file:` URL names (`file:x.db`, `file:/abs/x.db`, `file:///abs/x.db`), the key of its write queue. */
function filePath(url: string): string {
  let path = url.slice('file:'.length).replace(/[?#].*$/s, '');
  if (path.startsWith('//')) {
    // file://host/path: the authority (empty or localhost, as the client checks) is not part of the path.
    const slash = path.indexOf('/', 2);
    path = slash < 0 ? '' : path.slice(slash);
  }
  return resolve(decodeURIComponent(path));
}

/** The write queues of the files this library opened clients on, shared by every client on one file in this process. */
const fileGates = new Map<string, { gate: WriteGate; clients: number }>();
/** The write queues of apps' clients. */
const clientGates = new WeakMap<Client, WriteGate>();

/**
 * Turns `source` into a session. For a URL this creates the client (with
 * the busy timeout on every connection of its pool) and, for a file, makes
 * sure the file is in WAL mode, so that readers and the writer do not wait
 * for each other; an app's client is left as the app configured it.
 */
export async function openSession(source: unknown, options: Record<string, unknown>): Promise<LibsqlSession> {
  const borrowed = clientOf(source);
  if (borrowed !== undefined) {
    const { timeout } = clientOptions(options, true);
    if (borrowed.closed) throw new KVError('ERR_KV_CLOSED', 'the libSQL client given to drizzle-kv is closed');
    let gate = clientGates.get(borrowed);
    if (gate === undefined) clientGates.set(borrowed, (gate = new WriteGate()));
    return { client: borrowed, protocol: borrowed.protocol, owned: false, gate, timeout, close: () => {} };
  }
  if (typeof source !== 'string' || !(URL_SCHEME.test(source) || source === ':memory:')) {
    throw new KVTypeError(
      'ERR_KV_INVALID_ARGUMENT',
      `expected a libSQL URL (file:, libsql:, http(s):, ws(s):), an @libsql/client Client or a Drizzle database made on one (drizzle-orm/libsql), got ${describeSource(source)}`,
    );
  }
  const { authToken, timeout } = clientOptions(options, false);
  const { createClient } = libsql();
  let client: Client;
  try {
    // createClient opens a first connection of a file at once, and probes it.
    client = await retryBusy(timeout, async () => createClient({ url: source, intMode: 'number', timeout, ...(authToken === undefined ? {} : { authToken }) }));
  } catch (err) {
    throw toKVError(err, `open ${redactUrl(source)}`);
  }
  const local = client.protocol === 'file' && !isMemory(source);
  try {
    if (local) await useWal(client, timeout);
  } catch (err) {
    client.close();
    throw toKVError(err, `open ${redactUrl(source)}`);
  }
  if (!local) return { client, protocol: client.protocol, owned: true, gate: new WriteGate(), timeout, close: () => client.close() };
  const path = filePath(source);
  let shared = fileGates.get(path);
  if (shared === undefined) fileGates.set(path, (shared = { gate: new WriteGate(), clients: 0 }));
  shared.clients++;
  let closed = false;
  return {
    client,
    protocol: client.protocol,
    owned: true,
    gate: shared.gate,
    timeout,
    close: () => {
      if (closed) return;
      closed = true;
      client.close();
      const entry = fileGates.get(path);
      if (entry !== undefined && --entry.clients === 0) fileGates.delete(path);
    },
  };
}

/**
 * Switches a file to WAL (it stays so: the mode is recorded in the file).
 * Switching needs a moment of exclusive access, which SQLite refuses without
 * waiting while another process switches or recovers the same file: retried.
 */
async function useWal(client: Client, timeout: number): Promise<void> {
  const current = await retryBusy(timeout, () => client.execute('PRAGMA journal_mode'));
  if (String(current.rows[0]?.[0]).toLowerCase() === 'wal') return;
  await retryBusy(timeout, () => client.execute('PRAGMA journal_mode = WAL'));
}

/** A URL without its credentials, for messages. */
function redactUrl(url: string): string {
  return url.replace(/(authToken=)[^&]+/g, '$1***').replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
