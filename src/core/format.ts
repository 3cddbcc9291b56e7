/**
 * The format rules, written once for every engine: opening a store (one
 * read when nothing is pending; otherwise create or migrate under the
 * engine's lock, re-reading there), refusing newer formats, explaining a
 * stale handle, inspecting, migrating and dropping.
 *
 * They are plans (generators) over a {@link RegistryPort}: each registry call
 * is `yield* call(registry.x())`. The sync SQLite engine runs a plan with
 * {@link runSync}, the async engines with {@link runAsync}, so the logic and
 * the tests of races and crashes exercise one copy of it per engine.
 */
import type { FormatReport, Mode, Result, StoreInfo } from './api';
import { KVError } from './errors';
import { INDEXED_POLICIES, type RecordedLimits, describeLimits, sameLimits } from './limits';

/** One version step of an on-disk format level (see `migrations/step.ts`). */
export interface MigrationStep {
  readonly version: number;
  readonly tag: string;
  readonly statements: readonly string[];
}

/** The ordered steps of both format levels, on one engine. Versions mean the same on every engine. */
export interface Format {
  readonly database: readonly MigrationStep[];
  readonly store: readonly MigrationStep[];
}

/** What one cheap read at open tells about a store and its database. */
export interface StoreProbe extends StoreInfo {
  /** The database-level format version, or `null` if none is recorded. */
  readonly databaseVersion: number | null;
}

/** A plan: a generator that yields registry results (values or promises) and is given them back. */
export type Plan<T> = Generator<unknown, T, unknown>;

/** One registry call inside a plan: `const probe = yield* call(registry.probe(name))`. */
export function* call<T>(result: T | Promise<T>): Plan<T> {
  return (yield result) as T;
}

/** Runs a plan over a sync registry: every result is already a value. */
export function runSync<T>(plan: Plan<T>): T {
  let step = plan.next();
  while (!step.done) step = plan.next(step.value);
  return step.value;
}

/** Runs a plan over an async registry, awaiting each result (a rejection is thrown into the plan). */
export async function runAsync<T>(plan: Plan<T>): Promise<T> {
  let step = plan.next();
  while (!step.done) {
    let value: unknown;
    try {
      value = await step.value;
    } catch (err) {
      step = plan.throw(err);
      continue;
    }
    step = plan.next(value);
  }
  return step.value;
}

/** What the plans need from an engine's bookkeeping. */
export interface RegistryPort<M extends Mode> {
  /** The engine's steps. */
  readonly format: Format;
  /** Whether the connection may not write (nothing is created or migrated). */
  readonly readonly: boolean;
  /** The store's row and the database version in one read, or `undefined` (no bookkeeping yet, or no such store). */
  probe(name: string): Result<M, StoreProbe | undefined>;
  /** The database-level version; 0 when there is no bookkeeping. */
  databaseVersion(): Result<M, number>;
  /** The store of this name, as the engine compares names. */
  find(name: string): Result<M, StoreInfo | undefined>;
  list(): Result<M, StoreInfo[]>;
  insert(record: StoreInfo): Result<M, void>;
  setVersion(name: string, version: number): Result<M, void>;
  /** Records the store's limits. */
  setLimits(name: string, limits: RecordedLimits | null): Result<M, void>;
  /** Starts keeping the store's counters exactly (counting its table once), or stops (`on` false): only a store with limits keeps them. */
  usageTriggers(name: string, on: boolean): Result<M, void>;
  /** Creates the index of eviction policy `policy` on the store's table if it is missing, or drops it (`create` false). */
  evictionIndex(name: string, policy: (typeof INDEXED_POLICIES)[number], create: boolean): Result<M, void>;
  setDatabaseVersion(version: number): Result<M, void>;
  remove(name: string): Result<M, void>;
  /** Runs database-level steps after version `from`. */
  applyDatabase(from: number): Result<M, void>;
  /** Runs the store `name`'s steps after version `from`. */
  applyStore(name: string, from: number): Result<M, void>;
  /** Drops the store's table (and what belongs to it). */
  dropTable(name: string): Result<M, void>;
  /** Why a store `name` cannot be created here (a table that is not a store has the name), or `undefined`. */
  creationProblem(name: string): Result<M, KVError | undefined>;
  /** Tables kv-cache (Python) wrote, which `adoptKvCache` would convert (SQLite only). */
  kvCacheTables(): Result<M, string[]>;
  /** Runs `plan` holding the engine's exclusive format lock, in one transaction: all of it or nothing. */
  locked<T>(plan: () => Plan<T>): Result<M, T>;
  /** Runs `plan`'s reads in one consistent snapshot, taking no lock. */
  snapshot<T>(plan: () => Plan<T>): Result<M, T>;
}

/** A registry of either mode, as the plans see it. */
type Registry = RegistryPort<Mode>;

/** Refuses a format version newer than this library writes, naming both versions. */
function assertNotNewer(what: string, found: number | null, supported: number): void {
  if (found !== null && found > supported) {
    throw new KVError(
      'ERR_KV_FORMAT_TOO_NEW',
      `${what} is in format version ${found}, newer than the version ${supported} this drizzle-kv supports; upgrade drizzle-kv to open it`,
    );
  }
}

/** The refusals that need no lock: a format too new, another serializer, a name in another case. */
function checkRecord(registry: Registry, record: StoreInfo | StoreProbe, name: string, serializer: string): void {
  const { format } = registry;
  if ('databaseVersion' in record) assertNotNewer('the database', record.databaseVersion, format.database.length);
  assertNotNewer(`store "${record.name}"`, record.version, format.store.length);
  if (record.name !== name) {
    throw new KVError('ERR_KV_INVALID_NAME', `store "${name}" differs only in case from the existing store "${record.name}"; table names ignore case in this database`);
  }
  if (record.serializer !== serializer) {
    throw new KVError(
      'ERR_KV_SERIALIZER_MISMATCH',
      `store "${name}" was written with the "${record.serializer}" serializer, not "${serializer}"; open it with serializer "${record.serializer}"`,
    );
  }
}

/** Brings the bookkeeping to the current format. Runs under the lock. */
export function* migrateDatabase(registry: Registry): Plan<void> {
  const steps = registry.format.database;
  const version = yield* call(registry.databaseVersion());
  assertNotNewer('the database', version, steps.length);
  if (version === steps.length) return;
  yield* call(registry.applyDatabase(version));
  yield* call(registry.setDatabaseVersion(steps.length));
}

/** Creates the table of a new store and registers it. Runs under the lock, after {@link migrateDatabase}. */
export function* createStore(registry: Registry, name: string, serializer: string, now: number, limits: RecordedLimits | null = null): Plan<void> {
  const existing = yield* call(registry.find(name));
  if (existing !== undefined) {
    throw new KVError('ERR_KV_INVALID_NAME', `a store named "${existing.name}" already exists; table names ignore case in this database`);
  }
  const problem = yield* call(registry.creationProblem(name));
  if (problem !== undefined) throw problem;
  yield* call(registry.applyStore(name, 0));
  yield* call(registry.insert({ name, version: registry.format.store.length, serializer, createdAt: now, limits: null }));
  if (limits !== null) yield* applyLimits(registry, name, limits);
}

/** Records `limits` and makes the indexes match: the policy's created, every other policy's dropped. Runs under the lock. */
function* applyLimits(registry: Registry, name: string, limits: RecordedLimits | null): Plan<void> {
  yield* call(registry.usageTriggers(name, limits !== null));
  for (const policy of INDEXED_POLICIES) yield* call(registry.evictionIndex(name, policy, limits?.eviction === policy));
  yield* call(registry.setLimits(name, limits));
}

/**
 * Changes the limits of the store `name`, under the format lock: every
 * handle reads them from the registry row, at its next limited write or
 * within 64 writes. Returns them.
 */
export function* setStoreLimits(registry: Registry, name: string, serializer: string, limits: RecordedLimits | null): Plan<void> {
  yield* call(
    registry.locked(function* () {
      const record = yield* call(registry.find(name));
      if (record === undefined || record.name !== name) return yield* staleThrow(registry, name, serializer);
      checkRecord(registry, record, name, serializer);
      if (record.version !== registry.format.store.length) return yield* staleThrow(registry, name, serializer);
      if (!sameLimits(record.limits, limits)) yield* applyLimits(registry, name, limits);
    }),
  );
}

function* staleThrow(registry: Registry, name: string, serializer: string): Plan<never> {
  throw yield* staleStoreError(registry, name, serializer);
}

/** Refuses limits given at open that differ from the recorded ones. */
function checkLimits(record: StoreInfo, name: string, limits: RecordedLimits | null | undefined): void {
  if (limits === undefined || sameLimits(record.limits, limits)) return;
  throw new KVError(
    'ERR_KV_LIMITS_MISMATCH',
    `store "${name}" records ${describeLimits(record.limits)}, not ${describeLimits(limits)}; ` +
      'open it without "limits" (the recorded ones apply), or change them with setLimits()',
  );
}

/** Under the lock: re-reads what the probe saw (another process may have done it meanwhile), then creates or migrates. Returns the limits. */
function* createOrMigrate(registry: Registry, name: string, serializer: string, limits: RecordedLimits | null | undefined): Plan<RecordedLimits | null> {
  yield* migrateDatabase(registry);
  const record = yield* call(registry.find(name));
  if (record === undefined) {
    yield* createStore(registry, name, serializer, Date.now(), limits ?? null);
    return limits ?? null;
  }
  checkRecord(registry, record, name, serializer);
  if (record.version < registry.format.store.length) {
    yield* call(registry.applyStore(name, record.version));
    yield* call(registry.setVersion(name, registry.format.store.length));
  }
  // Read after migrating: a store older than the limits has none yet.
  const current = (yield* call(registry.find(name))) ?? record;
  checkLimits(current, name, limits);
  return current.limits;
}

/**
 * Makes sure the store `name` exists in the current format, creating or
 * migrating what is needed.
 *
 * When nothing is pending this costs one read and takes no lock: the usual
 * case, at every start of a CLI process. Otherwise all the work happens in
 * one transaction holding the engine's format lock, which re-reads the
 * versions first: when many processes open a fresh store at once, one
 * creates it and the others find it done; a failure leaves everything as it was.
 */
export function* ensureStore(
  registry: Registry,
  name: string,
  serializer: string,
  limits?: RecordedLimits | null,
): Plan<RecordedLimits | null> {
  const probe = yield* call(registry.probe(name));
  if (probe !== undefined) {
    checkRecord(registry, probe, name, serializer);
    if (probe.databaseVersion === registry.format.database.length && probe.version === registry.format.store.length) {
      checkLimits(probe, name, limits);
      return probe.limits;
    }
  }
  if (registry.readonly) {
    if (probe === undefined) {
      const problem = yield* call(registry.creationProblem(name));
      if (problem !== undefined) throw problem;
      throw new KVError('ERR_KV_NO_SUCH_STORE', `there is no store "${name}", and a read-only open cannot create one`);
    }
    throw new KVError('ERR_KV_MIGRATION_PENDING', `store "${name}" needs migrating to the current format; open it writable once`);
  }
  return yield* call(registry.locked(() => createOrMigrate(registry, name, serializer, limits)));
}

/**
 * Why an open handle's store is no longer what it opened: another
 * connection dropped it, migrated it to a newer format, or recreated it with
 * another serializer. The handle's write was refused before anything was written.
 */
export function* staleStoreError(registry: Registry, name: string, serializer: string): Plan<KVError> {
  let record: StoreInfo | undefined;
  try {
    record = yield* call(registry.find(name));
  } catch {
    record = undefined; // the bookkeeping itself is gone: so is the store
  }
  const supported = registry.format.store.length;
  const refused = 'so this handle wrote nothing';
  if (record === undefined || record.name !== name) {
    return new KVError('ERR_KV_NO_SUCH_STORE', `store "${name}" was dropped by another connection while this handle was open, ${refused}; open it again`);
  }
  if (record.version > supported) {
    return new KVError(
      'ERR_KV_FORMAT_TOO_NEW',
      `store "${name}" was migrated to format version ${record.version} by a newer drizzle-kv while this handle was open; ` +
        `this drizzle-kv writes version ${supported}, ${refused}; upgrade drizzle-kv`,
    );
  }
  if (record.version < supported) {
    return new KVError(
      'ERR_KV_MIGRATION_PENDING',
      `store "${name}" was recreated in format version ${record.version} by an older drizzle-kv while this handle was open, ${refused}; open it again to migrate it`,
    );
  }
  return new KVError(
    'ERR_KV_SERIALIZER_MISMATCH',
    `store "${name}" was recreated with the "${record.serializer}" serializer while this handle, which writes "${serializer}", was open, ${refused}; ` +
      `open it again with serializer "${record.serializer}"`,
  );
}

/** The format state, read in one snapshot without changing anything. Refuses a database that is too new. */
export function* inspectFormat(registry: Registry): Plan<FormatReport> {
  return yield* call(
    registry.snapshot(function* () {
      const { format } = registry;
      const databaseVersion = yield* call(registry.databaseVersion());
      assertNotNewer('the database', databaseVersion, format.database.length);
      const records = databaseVersion === 0 ? [] : yield* call(registry.list());
      const stores = records.map((record) => ({
        ...record,
        pending: record.version < format.store.length,
        newer: record.version > format.store.length,
      }));
      return {
        databaseVersion,
        supportedDatabaseVersion: format.database.length,
        supportedStoreVersion: format.store.length,
        stores,
        pending: (databaseVersion > 0 && databaseVersion < format.database.length) || stores.some((s) => s.pending),
        newer: stores.some((s) => s.newer),
        kvCacheTables: yield* call(registry.kvCacheTables()),
      };
    }),
  );
}

/** The stores, by name (none when there is no bookkeeping). */
export function* listStores(registry: Registry): Plan<StoreInfo[]> {
  const version = yield* call(registry.databaseVersion());
  return version === 0 ? [] : yield* call(registry.list());
}

/**
 * Migrates the bookkeeping and every store to the current format, in one
 * locked transaction: all of it or none. A store newer than the library is
 * refused (and nothing is migrated).
 *
 * @returns the names of the stores that were migrated
 */
export function* migrateAll(registry: Registry): Plan<string[]> {
  return yield* call(
    registry.locked(function* () {
      if ((yield* call(registry.databaseVersion())) === 0) return [];
      yield* migrateDatabase(registry);
      const supported = registry.format.store.length;
      const migrated: string[] = [];
      for (const record of yield* call(registry.list())) {
        assertNotNewer(`store "${record.name}"`, record.version, supported);
        if (record.version === supported) continue;
        yield* call(registry.applyStore(record.name, record.version));
        yield* call(registry.setVersion(record.name, supported));
        migrated.push(record.name);
      }
      return migrated;
    }),
  );
}

/** Refuses a database whose bookkeeping is newer than this library. One read; no lock. */
export function* assertDatabaseSupported(registry: Registry): Plan<void> {
  assertNotNewer('the database', yield* call(registry.databaseVersion()), registry.format.database.length);
}

/**
 * Drops the store `name` (its table, its index, its registry row). Returns
 * whether it existed. A store in a newer format than this library is
 * refused unless `force`: a release that cannot read a store should not be
 * the one to decide it is disposable.
 */
export function* dropStore(registry: Registry, name: string, force: boolean): Plan<boolean> {
  return yield* call(
    registry.locked(function* () {
      if ((yield* call(registry.databaseVersion())) === 0) return false;
      const record = yield* call(registry.find(name));
      if (record === undefined || record.name !== name) return false;
      const supported = registry.format.store.length;
      if (!force && record.version > supported) {
        throw new KVError(
          'ERR_KV_FORMAT_TOO_NEW',
          `store "${name}" is in format version ${record.version}, newer than the version ${supported} this drizzle-kv supports; ` +
            'it was not dropped (pass { force: true } to drop it all the same)',
        );
      }
      yield* call(registry.dropTable(name));
      yield* call(registry.remove(name));
      return true;
    }),
  );
}
