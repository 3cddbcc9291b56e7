/**
 * The format plans of `core/format.ts` on an SQLite connection: the
 * registry port they run over (bookkeeping tables, `sqlite_master`, the
 * IMMEDIATE transaction as the format lock), and a sync runner per plan.
 */
import { databaseSteps } from '../../migrations/database';
import { storeSteps } from '../../migrations/store';
import type { FormatReport, StoreInfo } from '../core/api';
import { KVError } from '../core/errors';
import * as plans from '../core/format';
import { type Format, type Plan, type RegistryPort, type StoreProbe, runSync } from '../core/format';
import type { RecordedLimits } from '../core/limits';
import { STORE_TEMPLATE_NAME } from '../schema/store';

import type { Connection } from './connection';
import { Registry, derivedNames } from './registry';

export type { Format, FormatReport };

/** The format this library writes on SQLite (and libSQL). */
export const CURRENT_FORMAT: Format = { database: databaseSteps, store: storeSteps };

/** The database-level format version this library writes. */
export const DATABASE_FORMAT_VERSION = databaseSteps.length;
/** The per-store format version this library writes. */
export const STORE_FORMAT_VERSION = storeSteps.length;

/** The bookkeeping of one SQLite connection, as the format plans see it. */
export class SqliteRegistry implements RegistryPort<'sync'> {
  readonly format: Format;
  readonly #conn: Connection;
  readonly #registry: Registry;

  constructor(conn: Connection, format: Format = CURRENT_FORMAT) {
    this.#conn = conn;
    this.#registry = new Registry(conn);
    this.format = format;
  }

  get readonly(): boolean {
    return this.#conn.readonly;
  }

  probe(name: string): StoreProbe | undefined {
    return this.#registry.probe(name);
  }
  databaseVersion(): number {
    return this.#registry.databaseVersion();
  }
  find(name: string): StoreInfo | undefined {
    return this.#registry.find(name);
  }
  list(): StoreInfo[] {
    return this.#registry.list();
  }
  insert(record: StoreInfo): void {
    this.#registry.insert(record);
  }
  setVersion(name: string, version: number): void {
    this.#registry.setVersion(name, version);
  }
  setLimits(name: string, limits: RecordedLimits | null): void {
    this.#registry.setLimits(name, limits);
  }
  evictionIndex(name: string, policy: 'lrs' | 'lru' | 'lfu', create: boolean): void {
    this.#registry.evictionIndex(name, policy, create);
  }
  usageTriggers(name: string, on: boolean): void {
    this.#registry.usageTriggers(name, on);
  }
  setDatabaseVersion(version: number): void {
    this.#registry.setDatabaseVersion(version);
  }
  remove(name: string): void {
    this.#registry.remove(name);
  }
  applyDatabase(from: number): void {
    for (const step of this.format.database.slice(from)) for (const statement of step.statements) this.#conn.client.exec(statement);
  }
  applyStore(name: string, from: number): void {
    for (const step of this.format.store.slice(from)) {
      for (const statement of step.statements) this.#conn.client.exec(statement.replaceAll(STORE_TEMPLATE_NAME, name));
    }
  }
  dropTable(name: string): void {
    this.#conn.client.exec(`DROP TABLE IF EXISTS "${name}"`);
    // Counters and tag rows exist from database format 2 on (a drop may run before a migration).
    if (this.#registry.databaseVersion() >= 2) this.#registry.forget(name);
  }
  creationProblem(name: string): KVError | undefined {
    if (this.#registry.isKvCacheTable(name)) {
      return new KVError(
        'ERR_KV_LEGACY_TABLE',
        `table "${name}" was written by kv-cache (Python), which may still be using it, so it is not converted silently; ` +
          `adopt it once with new KVDatabase(path).adoptKvCache({ tables: ["${name}"] })`,
      );
    }
    if (derivedNames(name).some((object) => this.#registry.objectExists(object))) {
      return new KVError('ERR_KV_FOREIGN_TABLE', `the file already has a table or index named "${name}" that is not a drizzle-kv store; it was left untouched`);
    }
    return undefined;
  }
  kvCacheTables(): string[] {
    return this.#registry.kvCacheTables();
  }
  /** The format lock on SQLite is the write lock: an IMMEDIATE transaction (a savepoint when nested). */
  locked<T>(plan: () => Plan<T>): T {
    return this.#conn.immediate(() => runSync(plan()));
  }
  snapshot<T>(plan: () => Plan<T>): T {
    return this.#conn.snapshot(() => runSync(plan()));
  }
}

/** See `core/format.ts` {@link plans.ensureStore}. Returns the store's limits. */
export function ensureStore(
  conn: Connection,
  name: string,
  serializer: string,
  format = CURRENT_FORMAT,
  limits?: RecordedLimits | null,
): RecordedLimits | null {
  return runSync(plans.ensureStore(new SqliteRegistry(conn, format), name, serializer, limits));
}

/** See `core/format.ts` {@link plans.setStoreLimits}. */
export function setStoreLimits(conn: Connection, name: string, serializer: string, limits: RecordedLimits | null): void {
  runSync(plans.setStoreLimits(new SqliteRegistry(conn), name, serializer, limits));
}

/** See `core/format.ts` {@link plans.staleStoreError}. */
export function staleStoreError(conn: Connection, name: string, serializer: string, format = CURRENT_FORMAT): KVError {
  return runSync(plans.staleStoreError(new SqliteRegistry(conn, format), name, serializer));
}

/** See `core/format.ts` {@link plans.inspectFormat}. */
export function inspectFormat(conn: Connection, format = CURRENT_FORMAT): FormatReport {
  return runSync(plans.inspectFormat(new SqliteRegistry(conn, format)));
}

/** See `core/format.ts` {@link plans.listStores}. */
export function listStores(conn: Connection, format = CURRENT_FORMAT): StoreInfo[] {
  return runSync(plans.listStores(new SqliteRegistry(conn, format)));
}

/** See `core/format.ts` {@link plans.migrateAll}. */
export function migrateAll(conn: Connection, format = CURRENT_FORMAT): string[] {
  return runSync(plans.migrateAll(new SqliteRegistry(conn, format)));
}

/** See `core/format.ts` {@link plans.assertDatabaseSupported}. */
export function assertDatabaseSupported(conn: Connection, format = CURRENT_FORMAT): void {
  runSync(plans.assertDatabaseSupported(new SqliteRegistry(conn, format)));
}

/** See `core/format.ts` {@link plans.dropStore}. */
export function dropStore(conn: Connection, name: string, force = false, format = CURRENT_FORMAT): boolean {
  return runSync(plans.dropStore(new SqliteRegistry(conn, format), name, force));
}

/** Brings the bookkeeping to the current format, inside the caller's IMMEDIATE transaction. */
export function migrateDatabase(conn: Connection, format = CURRENT_FORMAT): void {
  runSync(plans.migrateDatabase(new SqliteRegistry(conn, format)));
}

/** Creates and registers a new store, inside the caller's IMMEDIATE transaction, after {@link migrateDatabase}. */
export function createStore(conn: Connection, name: string, serializer: string, format = CURRENT_FORMAT): void {
  runSync(plans.createStore(new SqliteRegistry(conn, format), name, serializer, Date.now()));
}
