import { KVError } from '../core/errors';
import type { RecordedLimits } from '../core/limits';
import type { ResolvedStoreOptions } from '../core/options';
import type { Connection } from './connection';
import { STORE_FORMAT_VERSION, ensureStore, staleStoreError } from './migrator';
import { KVRepository, type StoreGuard } from './repository';
import { schemaProblems } from './schema-check';

/** Checks a table the app's own migrations created (`tables: 'external'`). */
function assertExternalSchema(connection: Connection, table: string): void {
  const problems = schemaProblems(connection, table);
  if (problems.length > 0) {
    throw new KVError(
      'ERR_KV_SCHEMA_MISMATCH',
      `table "${table}" does not match kvTable("${table}"), and with tables: 'external' drizzle-kv changes nothing: ${problems.join('; ')}`,
    );
  }
}

/** The guard that conditions a managed store's writes on the registry row this handle opened (see {@link StoreGuard}). */
function guardOf(connection: Connection, table: string, options: ResolvedStoreOptions): StoreGuard {
  const serializer = options.serializer.name;
  return { version: STORE_FORMAT_VERSION, serializer, stale: () => staleStoreError(connection, table, serializer) };
}

/**
 * Makes the store `table` ready on `connection` (created or migrated when
 * managed; checked when the app's migrations own it) and returns its
 * repository. The sync and async SQLite stores both open through here.
 */
export function prepareStore(connection: Connection, table: string, options: ResolvedStoreOptions): PreparedStore {
  if (options.tables === 'external') {
    assertExternalSchema(connection, table);
    return { repo: new KVRepository(connection, table), limits: null };
  }
  const limits = ensureStore(connection, table, options.serializer.name, undefined, options.limits);
  return { repo: new KVRepository(connection, table, guardOf(connection, table, options)), limits };
}

/** A store made ready: its repository, and its limits as recorded. */
export interface PreparedStore {
  readonly repo: KVRepository;
  readonly limits: RecordedLimits | null;
}
