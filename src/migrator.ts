import { databaseSteps } from '../migrations/database';
import type { MigrationStep } from '../migrations/step';
import { storeSteps } from '../migrations/store';
import type { Connection } from './connection';
import { KVError } from './errors';
import { Registry, type StoreProbe, type StoreRecord } from './registry';
import { STORE_TEMPLATE_NAME, expiryIndexName } from './schema/store';

/** The ordered steps of both format levels. */
export interface Format {
  readonly database: readonly MigrationStep[];
  readonly store: readonly MigrationStep[];
}

/** The format this library writes. */
export const CURRENT_FORMAT: Format = { database: databaseSteps, store: storeSteps };

/** The database-level format version this library writes. */
export const DATABASE_FORMAT_VERSION = databaseSteps.length;
/** The per-store format version this library writes. */
export const STORE_FORMAT_VERSION = storeSteps.length;

/** Refuses a format version newer than this library writes, naming both versions. */
function assertNotNewer(what: string, found: number | null, supported: number): void {
  if (found !== null && found > supported) {
    throw new KVError(
      'ERR_KV_FORMAT_TOO_NEW',
      `${what} is in format version ${found}, newer than the version ${supported} this drizzle-kv supports; upgrade drizzle-kv to open it`,
    );
  }
}

function apply(conn: Connection, steps: readonly MigrationStep[], from: number, table?: string): void {
  for (const step of steps.slice(from)) {
    for (const statement of step.statements) {
      conn.client.exec(table === undefined ? statement : statement.replaceAll(STORE_TEMPLATE_NAME, table));
    }
  }
}

/** Whether a probed store (already through {@link checkProbe}) has nothing to migrate. */
function isCurrent(probe: StoreProbe, format: Format): boolean {
  return probe.databaseVersion === format.database.length && probe.version === format.store.length;
}

/** The refusals that need no lock: a format too new, another serializer, a name in another case. */
function checkProbe(
  probe: StoreProbe | StoreRecord,
  name: string,
  serializer: string,
  format: Format,
): void {
  if ('databaseVersion' in probe) assertNotNewer('the database file', probe.databaseVersion, format.database.length);
  assertNotNewer(`store "${probe.name}"`, probe.version, format.store.length);
  if (probe.name !== name) {
    throw new KVError(
      'ERR_KV_INVALID_NAME',
      `store "${name}" differs only in case from the existing store "${probe.name}"; SQLite table names ignore case`,
    );
  }
  if (probe.serializer !== serializer) {
    throw new KVError(
      'ERR_KV_SERIALIZER_MISMATCH',
      `store "${name}" was written with the "${probe.serializer}" serializer, not "${serializer}"; open it with serializer "${probe.serializer}"`,
    );
  }
}

/**
 * Makes sure the store `name` exists in the file and is in the current
 * format, creating or migrating what is needed.
 *
 * When nothing is pending this costs one read and takes no lock: the usual
 * case, at every start of a CLI process. Otherwise all the work happens in
 * one IMMEDIATE transaction that re-reads the versions after taking the write
 * lock, so when many processes open a fresh file at once, one creates and
 * the others find it done; a failure leaves the file as it was.
 */
export function ensureStore(conn: Connection, name: string, serializer: string, format = CURRENT_FORMAT): void {
  const registry = new Registry(conn);
  const probe = registry.probe(name);
  if (probe) {
    checkProbe(probe, name, serializer, format);
    if (isCurrent(probe, format)) return;
  }
  if (conn.readonly) {
    if (!probe) assertCreatable(registry, name);
    throw probe
      ? new KVError('ERR_KV_MIGRATION_PENDING', `store "${name}" needs migrating to the current format; open the file writable once`)
      : new KVError('ERR_KV_NO_SUCH_STORE', `the file has no store "${name}", and a read-only open cannot create one`);
  }
  conn.immediate(() => {
    migrateDatabase(conn, registry, format.database);
    const record = registry.find(name);
    if (!record) {
      createStore(conn, registry, name, serializer, format);
      return;
    }
    checkProbe(record, name, serializer, format);
    if (record.version < format.store.length) {
      apply(conn, format.store, record.version, name);
      registry.setVersion(name, format.store.length);
    }
  });
}

/**
 * Why an open handle's store is no longer what it opened (see
 * `StoreGuard`): another connection dropped it, migrated it to a newer
 * format, or recreated it with another serializer. The handle's write was
 * refused before anything was written.
 */
export function staleStoreError(conn: Connection, name: string, serializer: string, format = CURRENT_FORMAT): KVError {
  let record: StoreRecord | undefined;
  try {
    record = new Registry(conn).find(name);
  } catch {
    record = undefined; // the bookkeeping itself is gone: so is the store
  }
  const refused = 'so this handle wrote nothing';
  if (record === undefined || record.name !== name) {
    return new KVError('ERR_KV_NO_SUCH_STORE', `store "${name}" was dropped by another connection while this handle was open, ${refused}; open it again`);
  }
  if (record.version > format.store.length) {
    return new KVError(
      'ERR_KV_FORMAT_TOO_NEW',
      `store "${name}" was migrated to format version ${record.version} by a newer drizzle-kv while this handle was open; ` +
        `this drizzle-kv writes version ${format.store.length}, ${refused}; upgrade drizzle-kv`,
    );
  }
  if (record.version < format.store.length) {
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

/** Refuses to create a store whose name is taken by a table or index that is not a store. */
function assertCreatable(registry: Registry, name: string): void {
  if (registry.isKvCacheTable(name)) {
    throw new KVError(
      'ERR_KV_LEGACY_TABLE',
      `table "${name}" was written by kv-cache (Python), which may still be using it, so it is not converted silently; ` +
        `adopt it once with new KVDatabase(path).adoptKvCache({ tables: ["${name}"] })`,
    );
  }
  if (registry.objectExists(name) || registry.objectExists(expiryIndexName(name))) {
    throw new KVError(
      'ERR_KV_FOREIGN_TABLE',
      `the file already has a table or index named "${name}" that is not a drizzle-kv store; it was left untouched`,
    );
  }
}

/**
 * Creates the table of a new store in `format` and registers it. Runs inside
 * the caller's IMMEDIATE transaction, after {@link migrateDatabase}.
 */
export function createStore(conn: Connection, registry: Registry, name: string, serializer: string, format = CURRENT_FORMAT): void {
  const existing = registry.find(name);
  if (existing !== undefined) {
    throw new KVError('ERR_KV_INVALID_NAME', `a store named "${existing.name}" already exists; SQLite table names ignore case`);
  }
  assertCreatable(registry, name);
  apply(conn, format.store, 0, name);
  registry.insert({ name, version: format.store.length, serializer, createdAt: Date.now() });
}

/** Brings the file's bookkeeping tables to the current format. Runs inside the caller's IMMEDIATE transaction. */
export function migrateDatabase(conn: Connection, registry: Registry, steps = CURRENT_FORMAT.database): void {
  const version = registry.databaseVersion();
  assertNotNewer('the database file', version, steps.length);
  if (version === steps.length) return;
  apply(conn, steps, version);
  registry.setDatabaseVersion(steps.length);
}

/** The format state of a file: what it is in, what this library writes, and what is pending. */
export interface FormatReport {
  /** The file's database-level format version (0: this library never wrote to it). */
  readonly databaseVersion: number;
  /** The database-level version this library writes. */
  readonly supportedDatabaseVersion: number;
  /** The per-store version this library writes. */
  readonly supportedStoreVersion: number;
  /**
   * Every store, with whether it has migration steps pending, and whether it
   * is `newer` than this library (written by a later release: this one
   * refuses to open, migrate or drop it).
   */
  readonly stores: readonly (StoreRecord & { readonly pending: boolean; readonly newer: boolean })[];
  /** Whether anything in the file would be migrated by {@link migrateAll}. */
  readonly pending: boolean;
  /** Whether any store is newer than this library (then {@link migrateAll} refuses, and migrates nothing). */
  readonly newer: boolean;
  /** Tables in kv-cache's (Python) layout, which `adoptKvCache` would convert. */
  readonly kvCacheTables: readonly string[];
}

/** Reads the format state of a file, without changing anything. Refuses a file that is too new. */
export function inspectFormat(conn: Connection, format = CURRENT_FORMAT): FormatReport {
  const registry = new Registry(conn);
  return conn.snapshot(() => {
    const databaseVersion = registry.databaseVersion();
    assertNotNewer('the database file', databaseVersion, format.database.length);
    const stores = (databaseVersion === 0 ? [] : registry.list()).map((record) => ({
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
      kvCacheTables: registry.kvCacheTables(),
    };
  });
}

/**
 * Migrates the file's bookkeeping and every store in it to the current
 * format, in one IMMEDIATE transaction: all of it or none. A store newer
 * than the library is refused (and nothing is migrated).
 *
 * @returns the names of the stores that were migrated
 */
export function migrateAll(conn: Connection, format = CURRENT_FORMAT): string[] {
  const registry = new Registry(conn);
  return conn.immediate(() => {
    if (registry.databaseVersion() === 0) return [];
    migrateDatabase(conn, registry, format.database);
    const migrated: string[] = [];
    for (const record of registry.list()) {
      assertNotNewer(`store "${record.name}"`, record.version, format.store.length);
      if (record.version === format.store.length) continue;
      apply(conn, format.store, record.version, record.name);
      registry.setVersion(record.name, format.store.length);
      migrated.push(record.name);
    }
    return migrated;
  });
}

/** Refuses a file whose database-level format is newer than `format`. One read; no lock. */
export function assertDatabaseSupported(conn: Connection, format = CURRENT_FORMAT): void {
  const version = new Registry(conn).databaseVersion();
  assertNotNewer('the database file', version, format.database.length);
}

/**
 * Drops the store `name` (its table, its index, its registry row). Returns
 * whether it existed. A store in a newer format than this library is
 * refused unless `force`: a release that cannot read a store should not be
 * the one to decide it is disposable.
 */
export function dropStore(conn: Connection, name: string, force = false, format = CURRENT_FORMAT): boolean {
  const registry = new Registry(conn);
  return conn.immediate(() => {
    if (registry.databaseVersion() === 0) return false;
    const record = registry.find(name);
    if (!record || record.name !== name) return false;
    if (!force && record.version > format.store.length) {
      throw new KVError(
        'ERR_KV_FORMAT_TOO_NEW',
        `store "${name}" is in format version ${record.version}, newer than the version ${format.store.length} this drizzle-kv supports; ` +
          'it was not dropped (pass { force: true } to drop it all the same)',
      );
    }
    conn.client.exec(`DROP TABLE IF EXISTS "${name}"`);
    registry.remove(name);
    return true;
  });
}
