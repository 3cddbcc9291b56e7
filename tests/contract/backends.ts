/**
 * The backends the contract runs on, declared as data: how to open a fresh
 * store or database on each, whether it is available here, and where its
 * engine is allowed to differ (`differences`, checked by the contract like
 * any other behaviour). Everything not declared here must be identical.
 *
 * A backend whose engine or server is missing is skipped visibly (its tests
 * are listed as skipped, with the reason in the title), unless
 * `DRIZZLE_KV_BACKENDS` names it: then it fails (see {@link isRequired}).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { KVDatabase, type KVStoreOptions, KVStore, type SerializerOption, type Ttl } from '../../src';
import type { DropOptions, EntriesOptions, FormatReport, ListOptions, ManyEntries, Mode, StoreInfo, StoreStats, WriteOptions } from '../../src/core/api';
import type { Limits } from '../../src/core/limits';
import * as sqliteAsync from '../../src/sqlite/async';
import { type FakeClock, tempDb } from '../helpers';
import { pgUrl, sqldUrl, uniqueName } from '../servers';

/** A value of `T`, or a promise of it: what a sync and an async store return alike. */
export type Awaitable<T> = T | Promise<T>;

/** The store API the contract exercises: `KVStoreApi` with sync and async results alike (await every call). */
export interface ContractStore {
  readonly name: string;
  get(key: string, defaultValue?: unknown): Awaitable<unknown>;
  set(key: string, value: unknown, ttl?: Ttl | WriteOptions): Awaitable<void>;
  add(key: string, value: unknown, ttl?: Ttl | WriteOptions): Awaitable<boolean>;
  has(key: string): Awaitable<boolean>;
  delete(key: string): Awaitable<boolean>;
  pop(key: string, defaultValue?: unknown): Awaitable<unknown>;
  touch(key: string, ttl?: Ttl): Awaitable<boolean>;
  ttl(key: string): Awaitable<number | undefined>;
  incr(key: string, by?: number): Awaitable<number>;
  decr(key: string, by?: number): Awaitable<number>;
  getMany(keys: Iterable<string>): Awaitable<Map<string, unknown>>;
  setMany(entries: ManyEntries<unknown>, ttl?: Ttl | WriteOptions): Awaitable<void>;
  invalidateTag(tag: string): Awaitable<number>;
  tagsOf(key: string): Awaitable<string[] | undefined>;
  stats(): Awaitable<StoreStats>;
  resetStats(): Awaitable<void>;
  setLimits(limits: Limits | null): Awaitable<void>;
  keys(options?: ListOptions): Awaitable<string[]>;
  values(options?: ListOptions): Awaitable<unknown[]>;
  items(options?: ListOptions): Awaitable<[string, unknown][]>;
  entries(options?: EntriesOptions): IterableIterator<[string, unknown]> | AsyncIterableIterator<[string, unknown]>;
  readonly size: Awaitable<number>;
  clear(options?: ListOptions): Awaitable<number>;
  purgeExpired(): Awaitable<number>;
  /** Sync stores take a sync callback, async stores an async one: use `runTransaction` from ./transactions. */
  transaction(fn: (store: ContractStore) => unknown): unknown;
  readonly closed: boolean;
  close(): Awaitable<void>;
}

/** The database API the contract exercises (`KVDatabaseApi`, plus the transaction both facades have). */
export interface ContractDatabase {
  store(name: string, options?: KVStoreOptions): Awaitable<ContractStore>;
  stores(): Awaitable<readonly StoreInfo[]>;
  inspect(): Awaitable<FormatReport>;
  migrate(): Awaitable<string[]>;
  drop(name: string, options?: DropOptions): Awaitable<boolean>;
  /** Sync: `fn()` with no argument, using the outer stores. Async: `fn(tx)`, opening stores from `tx`. */
  transaction(fn: (db?: ContractDatabase) => unknown): unknown;
  readonly closed: boolean;
  close(): Awaitable<void>;
}

/** Where an engine may behave differently; the contract checks each declared behaviour. */
export interface Differences {
  /** Whether a key may hold U+0000 (PostgreSQL `text` cannot): round-trips where true, `ERR_KV_INVALID_KEY` where false. */
  readonly nulInKeys: boolean;
  /** Whether a custom serializer that writes strings reads back bytes (a `bytea` value column) instead of the string. */
  readonly customStringSerializerGetsBytes: boolean;
  /** Whether a serializer's text output may hold U+0000 (libSQL's native `file:` driver cuts text there): round-trips where true, `ERR_KV_INVALID_VALUE` where false. */
  readonly nulInTextValues: boolean;
}

/** What `openStore` is given. Each call opens a fresh store, in a fresh file or schema where the engine has them. */
export interface OpenStoreOptions {
  clock: FakeClock;
  serializer?: SerializerOption;
  defaultTtl?: number;
  limits?: Limits | null;
  stats?: 'memory' | 'persisted';
  /** The store's name; a fresh unique one when absent. */
  table?: string;
}

export type BackendName = 'sqlite-sync' | 'sqlite-memory' | 'sqlite-database' | 'sqlite-async' | 'pg' | 'libsql-file' | 'libsql-sqld';

export interface Backend {
  readonly name: BackendName;
  readonly mode: Mode;
  readonly differences: Differences;
  /** Names in `DRIZZLE_KV_BACKENDS` that require this backend, besides its own name and `all`. */
  readonly aliases: readonly string[];
  /** `undefined` when the backend can run here; otherwise why not. */
  available(): string | undefined;
  /** Opens a fresh, empty, uniquely named store (a new file, or a new PostgreSQL schema). */
  openStore(options: OpenStoreOptions): Promise<ContractStore>;
  /** Opens a fresh database (a new file, or a new PostgreSQL schema; on sqld, the server's one database). */
  openDatabase(): Promise<ContractDatabase>;
  /** Closes whatever a test left open and removes what the backend created (schemas, tables on a shared server). */
  cleanup(): Promise<void>;
}

/** The async engines' entry points (`src/pg`, `src/libsql`, `src/sqlite/async`): the same two functions. */
interface AsyncEntry {
  openStore(source: string, options?: Record<string, unknown>): Promise<ContractStore>;
  openDatabase(source: string, options?: Record<string, unknown>): Promise<ContractDatabase>;
}

const SRC = join(__dirname, '..', '..', 'src');

/** An engine's entry, loaded only when a test needs it, so this file loads before the engine exists. */
function entry(dir: 'pg' | 'libsql'): AsyncEntry {
  return require(join(SRC, dir)) as AsyncEntry;
}

function missingEntry(dir: 'pg' | 'libsql'): string | undefined {
  return existsSync(join(SRC, dir, 'index.ts')) ? undefined : `src/${dir}/index.ts does not exist yet`;
}

const names = new Set<string>();
/** A fresh store name, unique across the processes sharing a server (recorded, so sqld's cleanup can drop it). */
export function freshName(prefix = 'kv'): string {
  const name = uniqueName(prefix);
  names.add(name);
  return name;
}

/** Store options without the table name, leaving out what was not given (engines refuse no option, but keep it plain). */
function storeOptions({ clock, serializer, defaultTtl, limits, stats }: OpenStoreOptions): Record<string, unknown> {
  const given = { serializer, defaultTtl, limits, stats };
  return { clock, ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) };
}

/** Everything a backend opened, closed at cleanup if a failing test left it open (an open pool would keep jest alive). */
class Opened {
  readonly #handles: { close(): Awaitable<void>; readonly closed: boolean }[] = [];
  add<T extends { close(): Awaitable<void>; readonly closed: boolean }>(handle: T): T {
    this.#handles.push(handle);
    return handle;
  }
  async closeAll(): Promise<void> {
    for (const handle of this.#handles.splice(0)) if (!handle.closed) await handle.close();
  }
}

function sqliteSync(): Backend {
  const opened = new Opened();
  return {
    name: 'sqlite-sync',
    mode: 'sync',
    differences: { nulInKeys: true, customStringSerializerGetsBytes: false, nulInTextValues: true },
    aliases: ['sqlite'],
    available: () => undefined,
    openStore: async (options) => opened.add(new KVStore(tempDb(), { table: options.table ?? freshName(), ...storeOptions(options) })),
    openDatabase: async () => opened.add(new KVDatabase(tempDb())),
    cleanup: () => opened.closeAll(),
  };
}

/** The sync store on a private in-memory database (`':memory:'`): no file, no WAL. */
function sqliteMemory(): Backend {
  const opened = new Opened();
  return {
    ...sqliteSync(),
    name: 'sqlite-memory',
    aliases: [],
    openStore: async (options) => opened.add(new KVStore(':memory:', { table: options.table ?? freshName(), ...storeOptions(options) })),
    openDatabase: async () => opened.add(new KVDatabase(':memory:')),
    cleanup: () => opened.closeAll(),
  };
}

/** The sync store opened from a `KVDatabase`, on the connection it shares; closing the store closes the database too. */
function sqliteDatabase(): Backend {
  const opened = new Opened();
  return {
    ...sqliteSync(),
    name: 'sqlite-database',
    aliases: [],
    openStore: async (options) => {
      const db = opened.add(new KVDatabase(tempDb()));
      const store = db.store(options.table ?? freshName(), storeOptions(options));
      const close = store.close.bind(store);
      return Object.assign(store, { close: () => (close(), db.close()) });
    },
    cleanup: () => opened.closeAll(),
  };
}

function sqliteAsyncBackend(): Backend {
  const opened = new Opened();
  const sqlite = sqliteAsync as unknown as AsyncEntry;
  return {
    name: 'sqlite-async',
    mode: 'async',
    differences: { nulInKeys: true, customStringSerializerGetsBytes: false, nulInTextValues: true },
    aliases: ['sqlite'],
    available: () => undefined,
    openStore: async (options) => opened.add(await sqlite.openStore(tempDb(), { table: options.table ?? freshName(), ...storeOptions(options) })),
    openDatabase: async () => opened.add(await sqlite.openDatabase(tempDb())),
    cleanup: () => opened.closeAll(),
  };
}

function pgBackend(): Backend {
  const opened = new Opened();
  const schemas: string[] = [];
  let admin: Promise<Client> | undefined;
  const url = (): string => {
    const found = pgUrl();
    if (found === undefined) throw new Error('pg backend used while unavailable');
    return found;
  };
  /** A fresh PostgreSQL schema, created here so that nothing depends on the engine creating it. */
  const freshSchema = async (): Promise<string> => {
    admin ??= (async () => {
      const client = new Client({ connectionString: url() });
      client.on('error', () => {});
      await client.connect();
      return client;
    })();
    const schema = uniqueName('kvc');
    schemas.push(schema);
    await (await admin).query(`CREATE SCHEMA ${schema}`);
    return schema;
  };
  return {
    name: 'pg',
    mode: 'async',
    // text keys cannot hold U+0000; values are bytea, so a serializer's string comes back as its UTF-8 bytes.
    differences: { nulInKeys: false, customStringSerializerGetsBytes: true, nulInTextValues: true },
    aliases: [],
    available: () => (pgUrl() === undefined ? 'no PostgreSQL server (DRIZZLE_KV_PG_URL unset by the global setup)' : missingEntry('pg')),
    openStore: async (options) => {
      const pgSchema = await freshSchema();
      return opened.add(await entry('pg').openStore(url(), { pgSchema, table: options.table ?? freshName(), ...storeOptions(options) }));
    },
    openDatabase: async () => opened.add(await entry('pg').openDatabase(url(), { pgSchema: await freshSchema() })),
    cleanup: async () => {
      await opened.closeAll();
      if (admin === undefined) return;
      const client = await admin;
      admin = undefined;
      try {
        for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

function libsqlFile(): Backend {
  const opened = new Opened();
  return {
    name: 'libsql-file',
    mode: 'async',
    differences: { nulInKeys: true, customStringSerializerGetsBytes: false, nulInTextValues: false },
    aliases: ['libsql'],
    available: () => missingEntry('libsql'),
    openStore: async (options) =>
      opened.add(await entry('libsql').openStore(`file:${tempDb()}`, { table: options.table ?? freshName(), ...storeOptions(options) })),
    openDatabase: async () => opened.add(await entry('libsql').openDatabase(`file:${tempDb()}`)),
    cleanup: () => opened.closeAll(),
  };
}

function libsqlSqld(): Backend {
  const opened = new Opened();
  const url = (): string => {
    const found = sqldUrl();
    if (found === undefined) throw new Error('libsql-sqld backend used while unavailable');
    return found;
  };
  return {
    name: 'libsql-sqld',
    mode: 'async',
    differences: { nulInKeys: true, customStringSerializerGetsBytes: false, nulInTextValues: true },
    aliases: ['sqld', 'libsql'],
    available: () => (sqldUrl() === undefined ? 'no sqld server (DRIZZLE_KV_SQLD_URL unset by the global setup)' : missingEntry('libsql')),
    openStore: async (options) => opened.add(await entry('libsql').openStore(url(), { table: options.table ?? freshName(), ...storeOptions(options) })),
    // sqld serves one database, shared by every test: the contract only looks at the stores it named.
    openDatabase: async () => opened.add(await entry('libsql').openDatabase(url())),
    cleanup: async () => {
      await opened.closeAll();
      if (names.size === 0) return;
      const db = await entry('libsql').openDatabase(url());
      try {
        for (const name of [...names]) {
          await db.drop(name, { force: true });
          names.delete(name);
        }
      } finally {
        await db.close();
      }
    },
  };
}

/** Every backend, in the order they are reported. */
export const BACKENDS: readonly Backend[] = [sqliteSync(), sqliteMemory(), sqliteDatabase(), sqliteAsyncBackend(), pgBackend(), libsqlFile(), libsqlSqld()];

export function backendNamed(name: BackendName): Backend {
  const backend = BACKENDS.find((b) => b.name === name);
  if (backend === undefined) throw new Error(`no backend named ${name}`);
  return backend;
}

/** The names `DRIZZLE_KV_BACKENDS` lists (a comma list, or `all`). */
export function requiredNames(): string[] {
  return (process.env['DRIZZLE_KV_BACKENDS'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** Whether `DRIZZLE_KV_BACKENDS` requires this backend: `all`, its name, or an alias (`pg`, `sqld`, `libsql`, `sqlite`). */
export function isRequired(backend: Backend): boolean {
  const listed = requiredNames();
  return listed.includes('all') || listed.includes(backend.name) || backend.aliases.some((a) => listed.includes(a));
}
