import { KVRangeError, KVTypeError } from './errors';
import { DEFAULT_STORE_NAME, assertStoreName } from './names';
import { type Serializer, type SerializerOption, resolveSerializer } from './serializer';
import { describe } from './describe';
import { type Limits, type RecordedLimits, resolveLimits } from './limits';

/** A source of the current time in epoch milliseconds. Inject one to test TTLs without sleeping. */
export interface Clock {
  now(): number;
}

/** Options for opening a database file. */
export interface KVDatabaseOptions {
  /**
   * How long, in milliseconds, a write waits for another connection's write
   * lock before failing with `ERR_KV_BUSY`.
   * @default 5000
   */
  timeout?: number;
  /**
   * Open the file read-only: for inspecting a cache another process owns.
   * Nothing is created or migrated; writes fail with `ERR_KV_READONLY`.
   * @default false
   */
  readonly?: boolean;
  /**
   * What a committed write survives. `'normal'` (`synchronous=NORMAL`):
   * a crash of the process, not always a power loss, which may undo the
   * last commits (never corrupting the file). `'full'` (`synchronous=FULL`):
   * a power loss too, at the cost of an fsync per commit.
   * @default 'normal'
   */
  durability?: Durability;
  /**
   * Bytes of the file SQLite may read through a memory map instead of
   * `read()` calls (`PRAGMA mmap_size`). Off by default: when another
   * process truncates or damages a mapped file, the next access to the lost
   * pages kills this process with SIGBUS, which no `try` can catch; with
   * `read()`, the same damage is an `ERR_KV_CORRUPT` error. Turn it on only
   * for files no other program can shrink (docs/benchmarks.md has its gain).
   * @default 0
   */
  mmapSize?: number;
}

/** See {@link KVDatabaseOptions.durability}. */
export type Durability = 'normal' | 'full';

/** Options for a store. */
export interface KVStoreOptions {
  /**
   * How values are encoded: `'json'` (readable by any SQLite client), `'v8'`
   * (keeps Dates, Maps, Sets, BigInts, typed arrays…) or a custom
   * {@link Serializer}. Recorded in the file: reopening the store with
   * another serializer is an `ERR_KV_SERIALIZER_MISMATCH` error.
   * @default 'json'
   */
  serializer?: SerializerOption;
  /**
   * TTL in seconds applied by writes that pass none. `undefined` means
   * entries never expire unless a write says so.
   * @default undefined
   */
  defaultTtl?: number;
  /**
   * Where "now" comes from, in epoch milliseconds.
   * @default the global `Date.now`, looked up at each call (so fake timers
   *   installed after the store opened, as jest's and sinon's are, control it)
   */
  clock?: Clock;
  /**
   * Who creates and migrates the store's table. `'managed'`: this library,
   * with its own bookkeeping. `'external'`: the app's own migrations (its
   * drizzle-kit schema declares `kvTable(name)`, or `pgKvTable(name)` on
   * PostgreSQL); the library then creates nothing, records nothing, and
   * checks the table's columns and indexes at open, naming what differs
   * (`ERR_KV_SCHEMA_MISMATCH`).
   * @default 'managed'
   */
  tables?: TablesMode;
  /**
   * The store's size limits and eviction policy, recorded in the database
   * when the store is created (see docs/eviction.md). Omitted: the recorded
   * ones apply. Given to an existing store, they must be the recorded ones
   * (`ERR_KV_LIMITS_MISMATCH` otherwise): change them with `setLimits()`.
   * @default undefined
   */
  limits?: Limits | null;
  /**
   * Where statistics are counted: `'memory'`, per handle; `'persisted'`, also
   * in the database, shared by every handle and process (folded into writes,
   * or flushed within a second; never a write per read).
   * @default 'memory'
   */
  stats?: StatsMode;
  /**
   * The former name of {@link KVStoreOptions.tables}, kept through 0.x.
   * @deprecated use `tables`: on PostgreSQL a "schema" is a namespace.
   */
  schema?: TablesMode;
}

/** See {@link KVStoreOptions.tables}. */
export type TablesMode = 'managed' | 'external';

/** See {@link KVStoreOptions.stats}. */
export type StatsMode = 'memory' | 'persisted';

/** @deprecated the former name of {@link TablesMode}. */
export type SchemaMode = TablesMode;

/** Options for `new KVStore(path, options)`: the file's options, the store's, and the table name. */
export interface KVStoreFileOptions extends KVDatabaseOptions, KVStoreOptions {
  /**
   * Name of the store, which is its table name: letters, digits and
   * underscores, not starting with a digit, `sqlite_` or `drizzle_kv_`.
   * @default 'key_value_store'
   */
  table?: string;
}

/** {@link KVDatabaseOptions} with every default filled in. */
export interface ResolvedDatabaseOptions {
  readonly timeout: number;
  readonly readonly: boolean;
  readonly durability: Durability;
  readonly mmapSize: number;
}

/** {@link KVStoreOptions} with every default filled in. */
export interface ResolvedStoreOptions {
  readonly serializer: Serializer;
  readonly defaultTtl: number | undefined;
  readonly clock: Clock;
  readonly tables: TablesMode;
  /** `undefined`: not given (the recorded limits apply). */
  readonly limits: RecordedLimits | null | undefined;
  readonly stats: StatsMode;
}

/**
 * The default clock. It looks up the global `Date` at every call rather than
 * keeping the one that existed when the store opened: test frameworks replace
 * `Date` when a test installs fake timers, usually after the app's stores opened.
 */
const systemClock: Clock = { now: () => Date.now() };

const DATABASE_KEYS = ['timeout', 'readonly', 'durability', 'mmapSize'] as const;
/** The options of a store. */
export const STORE_KEYS = ['serializer', 'defaultTtl', 'clock', 'tables', 'schema', 'limits', 'stats'] as const;
const FILE_KEYS = [...DATABASE_KEYS, ...STORE_KEYS, 'table'] as const;

/**
 * Refuses anything but a plain options object, and any key it does not know
 * (a misspelled option must not pass silently). `where` prefixes the message.
 */
export function assertOptionsObject(
  options: unknown,
  known: readonly string[],
  where = '',
): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `${where}options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new KVTypeError(
        'ERR_KV_INVALID_OPTION',
        `${where}unknown option ${JSON.stringify(key)}; known options are ${known.join(', ')}`,
      );
    }
  }
}

function resolveDatabaseFields(options: Record<string, unknown>): ResolvedDatabaseOptions {
  const { timeout = 5000, readonly = false, durability = 'normal', mmapSize = 0 } = options;
  if (typeof timeout !== 'number') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "timeout" must be a number of milliseconds, got ${describe(timeout)}`);
  }
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > 2 ** 31 - 1) {
    throw new KVRangeError('ERR_KV_INVALID_OPTION', `option "timeout" must be a whole number of milliseconds from 0 to 2^31-1, got ${timeout}`);
  }
  if (typeof readonly !== 'boolean') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "readonly" must be a boolean, got ${describe(readonly)}`);
  }
  if (durability !== 'normal' && durability !== 'full') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "durability" must be 'normal' or 'full', got ${describe(durability)}`);
  }
  if (typeof mmapSize !== 'number') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "mmapSize" must be a number of bytes, got ${describe(mmapSize)}`);
  }
  if (!Number.isSafeInteger(mmapSize) || mmapSize < 0) {
    throw new KVRangeError('ERR_KV_INVALID_OPTION', `option "mmapSize" must be a whole number of bytes, 0 or more, got ${mmapSize}`);
  }
  return { timeout, readonly, durability, mmapSize };
}

function resolveStoreFields(options: Record<string, unknown>): ResolvedStoreOptions {
  const { serializer, defaultTtl, clock = systemClock, schema } = options;
  if (options['tables'] !== undefined && schema !== undefined) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', 'options "tables" and "schema" are the same option (schema is its former name); pass only "tables"');
  }
  const tables = options['tables'] ?? schema ?? 'managed';
  if (tables !== 'managed' && tables !== 'external') {
    const name = schema === undefined ? 'tables' : 'schema';
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "${name}" must be 'managed' or 'external', got ${describe(tables)}`);
  }
  if (typeof clock !== 'object' && typeof clock !== 'function') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "clock" must be an object with a now() method, got ${describe(clock)}`);
  }
  if (clock === null || typeof (clock as Partial<Clock>).now !== 'function') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', 'option "clock" must have a now() method returning epoch milliseconds');
  }
  if (defaultTtl !== undefined) {
    if (typeof defaultTtl !== 'number') {
      throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "defaultTtl" must be a number of seconds, got ${describe(defaultTtl)}`);
    }
    // The same bounds as a write's TTL, checked now rather than at every write.
    if (!(defaultTtl > 0) || (defaultTtl !== Infinity && defaultTtl * 1000 > Number.MAX_SAFE_INTEGER - Date.now())) {
      throw new KVRangeError(
        'ERR_KV_INVALID_OPTION',
        `option "defaultTtl" must be a positive number of seconds that fits an expiry time (or Infinity), got ${defaultTtl}`,
      );
    }
  }
  const limits = options['limits'] === undefined ? undefined : resolveLimits(options['limits'], 'option "limits"');
  const stats = options['stats'] ?? 'memory';
  if (stats !== 'memory' && stats !== 'persisted') {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `option "stats" must be 'memory' or 'persisted', got ${describe(stats)}`);
  }
  if (tables === 'external' && (limits != null || stats === 'persisted')) {
    throw new KVTypeError(
      'ERR_KV_INVALID_OPTION',
      `options "limits" and stats: 'persisted' need the tables drizzle-kv manages (their counters), not tables: 'external'`,
    );
  }
  return {
    serializer: resolveSerializer(serializer as SerializerOption | undefined),
    defaultTtl: defaultTtl === Infinity ? undefined : defaultTtl,
    clock: clock as Clock,
    tables,
    limits,
    stats,
  };
}

/** Refuses the file options on an app's own connection, whose settings the app owns. */
function assertNoFileOptions(options: Record<string, unknown>): void {
  const given = DATABASE_KEYS.filter((key) => options[key] !== undefined);
  if (given.length > 0) {
    throw new KVTypeError(
      'ERR_KV_INVALID_OPTION',
      `option ${JSON.stringify(given[0])} applies to files drizzle-kv opens itself; set it on your own connection instead`,
    );
  }
}

/** Validates {@link KVDatabaseOptions} at the boundary (`borrowed`: for an app's own connection). */
export function resolveDatabaseOptions(options: unknown = {}, borrowed = false): ResolvedDatabaseOptions {
  assertOptionsObject(options, DATABASE_KEYS);
  if (borrowed) assertNoFileOptions(options);
  return resolveDatabaseFields(options);
}

/** Validates {@link KVStoreOptions} at the boundary. */
export function resolveStoreOptions(options: unknown = {}): ResolvedStoreOptions {
  assertOptionsObject(options, STORE_KEYS);
  return resolveStoreFields(options);
}

/** Validates the second argument of `new KVStore(path, …)`: a table name or {@link KVStoreFileOptions}. */
export function resolveFileOptions(tableOrOptions: unknown, borrowed = false): {
  table: string;
  database: ResolvedDatabaseOptions;
  store: ResolvedStoreOptions;
} {
  const options = typeof tableOrOptions === 'string' ? { table: tableOrOptions } : (tableOrOptions ?? {});
  assertOptionsObject(options, FILE_KEYS);
  if (borrowed) assertNoFileOptions(options);
  const { table = DEFAULT_STORE_NAME } = options;
  assertStoreName(table);
  return { table, database: resolveDatabaseFields(options), store: resolveStoreFields(options) };
}
