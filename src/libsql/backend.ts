import { getTableConfig } from 'drizzle-orm/sqlite-core';
import type { FormatReport, StoreInfo } from '../core/api';
import { KVError } from '../core/errors';
import { dropStore, ensureStore, inspectFormat, listStores, migrateAll, runAsync, setStoreLimits, staleStoreError } from '../core/format';
import type { RecordedLimits } from '../core/limits';
import { SQLITE_NAMES } from '../core/names';
import type { ResolvedStoreOptions } from '../core/options';
import type { DatabaseBackend, StoreBackend } from '../core/ports';
import type { Capabilities } from '../core/rules';
import { kvTable } from '../schema/store';
import { schemaProblems } from '../sqlite/schema-check';
import type { LibsqlSession } from './client';
import { toKVError } from './errors';
import type { Executor, ResultSet } from './executor';
import { LIBSQL_FORMAT, LibsqlRegistry } from './registry';
import { LibsqlRepository, StoreQueries, guardOf } from './repository';

/** What libSQL holds: SQLite's text, so keys may contain U+0000 (read back whole, see `StoreQueries.keysAsBlobs`). */
export const LIBSQL_CAPABILITIES: Capabilities = { engine: 'libSQL', nulInKeys: true };

/**
 * Runs a caller's `fn` in a transaction. What `fn` throws is the caller's and
 * passes unchanged, even a driver error from its own query; failures of the
 * transaction itself (BEGIN, COMMIT) become errors of this library.
 */
async function callerTransaction<T>(ex: Executor, fn: (inside: Executor) => Promise<T>): Promise<T> {
  let thrown: { error: unknown } | undefined;
  try {
    return await ex.transaction(async (inside) => {
      try {
        return await fn(inside);
      } catch (error) {
        thrown = { error };
        throw error;
      }
    });
  } catch (err) {
    if (thrown !== undefined && thrown.error === err) throw err;
    throw toKVError(err, 'transaction');
  }
}

/** One store's backend on one executor: the client's, or a transaction's. */
function storeBackend(repo: LibsqlRepository, limits: RecordedLimits | null, setLimits: (limits: RecordedLimits | null) => Promise<void>): StoreBackend<'async'> {
  return {
    repo,
    limits,
    setLimits,
    classify: toKVError,
    transaction: (fn) => callerTransaction(repo.ex, (inside) => fn(storeBackend(repo.on(inside), limits, setLimits))),
    close: async () => {},
  };
}

/** A PRAGMA's rows as plain objects, integers as numbers (whatever the client's `intMode`). */
function pragmaRows(result: ResultSet): Record<string, unknown>[] {
  return result.rows.map((row) =>
    Object.fromEntries(result.columns.map((column, i) => {
      const value = row[i];
      return [column, typeof value === 'bigint' ? Number(value) : value];
    })),
  );
}

/**
 * How the table `name` differs from `kvTable(name)`: the checks of the
 * SQLite engine (`src/sqlite/schema-check.ts`), given the PRAGMAs' answers
 * read here (on a server, one round trip each).
 */
async function externalSchemaProblems(ex: Executor, name: string): Promise<string[]> {
  const pragmas = [`table_info("${name}")`, `index_list("${name}")`];
  for (const index of getTableConfig(kvTable(name)).indexes) pragmas.push(`index_info("${index.config.name}")`);
  const answers = new Map<string, Record<string, unknown>[]>();
  for (const pragma of pragmas) answers.set(pragma, pragmaRows(await ex.read({ sql: `PRAGMA ${pragma}`, args: [] })));
  const connection = { client: { pragma: (text: string) => answers.get(text) ?? [] } } as unknown as Parameters<typeof schemaProblems>[0];
  return schemaProblems(connection, name);
}

/**
 * The async stores' view of one libSQL database: the SQLite format and
 * queries, run through the client (or one of its transactions).
 */
export class LibsqlDatabaseBackend implements DatabaseBackend {
  readonly capabilities = LIBSQL_CAPABILITIES;
  readonly names = SQLITE_NAMES;

  constructor(
    readonly session: LibsqlSession,
    readonly ex: Executor,
    /** Whether this backend is bound to a transaction (it then closes nothing). */
    readonly inTransaction = false,
  ) {}

  async openStore(name: string, options: ResolvedStoreOptions): Promise<StoreBackend<'async'>> {
    const keysAsBlobs = this.session.protocol === 'file';
    if (options.tables === 'external') {
      const problems = await externalSchemaProblems(this.ex, name);
      if (problems.length > 0) {
        throw new KVError(
          'ERR_KV_SCHEMA_MISMATCH',
          `table "${name}" does not match kvTable("${name}"), and with tables: 'external' drizzle-kv changes nothing: ${problems.join('; ')}`,
        );
      }
      const unguarded = new LibsqlRepository(new StoreQueries(name, undefined, keysAsBlobs), this.ex, async () => new Error('unguarded'));
      return storeBackend(unguarded, null, async () => {});
    }
    const serializer = options.serializer.name;
    const limits = await runAsync(ensureStore(new LibsqlRegistry(this.ex), name, serializer, options.limits));
    const queries = new StoreQueries(name, guardOf(LIBSQL_FORMAT.store.length, serializer), keysAsBlobs);
    const repo = new LibsqlRepository(queries, this.ex, (ex) => runAsync(staleStoreError(new LibsqlRegistry(ex), name, serializer)));
    return storeBackend(repo, limits, (next) => runAsync(setStoreLimits(new LibsqlRegistry(this.ex), name, serializer, next)));
  }

  stores(): Promise<StoreInfo[]> {
    return runAsync(listStores(new LibsqlRegistry(this.ex)));
  }

  inspect(): Promise<FormatReport> {
    return runAsync(inspectFormat(new LibsqlRegistry(this.ex)));
  }

  migrate(): Promise<string[]> {
    return runAsync(migrateAll(new LibsqlRegistry(this.ex)));
  }

  drop(name: string, force: boolean): Promise<boolean> {
    return runAsync(dropStore(new LibsqlRegistry(this.ex), name, force));
  }

  transaction<T>(fn: (backend: DatabaseBackend) => Promise<T>): Promise<T> {
    return callerTransaction(this.ex, (inside) => fn(new LibsqlDatabaseBackend(this.session, inside, true)));
  }

  classify(err: unknown, operation: string): unknown {
    return toKVError(err, operation);
  }

  async close(): Promise<void> {
    if (!this.inTransaction) this.session.close();
  }
}
