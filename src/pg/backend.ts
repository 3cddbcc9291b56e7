import type { FormatReport, StoreInfo } from '../core/api';
import * as plans from '../core/format';
import { runAsync } from '../core/format';
import type { NameRules } from '../core/names';
import type { ResolvedStoreOptions } from '../core/options';
import type { DatabaseBackend, StoreBackend } from '../core/ports';
import type { Capabilities } from '../core/rules';
import { classifyPgError } from './errors';
import { externalTableProblems } from './introspect';
import { PgQueries } from './queries';
import { PG_FORMAT, type PgPlace, PgRegistry } from './registry';
import { PgRepository } from './repository';
import type { RecordedLimits } from '../core/limits';
import { pgBookkeeping, pgKvTable, PG_MAX_STORE_NAME } from './schema';
import { type PgSession, isControlFailure } from './session';
import { KVError } from '../core/errors';

/** PostgreSQL's `text` cannot hold U+0000; every other key is stored exactly. */
export const PG_CAPABILITIES: Capabilities = { engine: 'PostgreSQL', nulInKeys: false };

/** Store names whose derived names fit PostgreSQL's 63-byte identifiers; `pg_` is PostgreSQL's own. */
export const PG_NAMES: NameRules = { maxLength: PG_MAX_STORE_NAME, reservedPrefixes: ['pg_'] };

/**
 * A transaction's failure as the caller sees it: what the callback threw
 * passes unchanged; a failed BEGIN or COMMIT becomes a typed error.
 */
function transactionError(err: unknown): unknown {
  return isControlFailure(err) ? classifyPgError(err, 'transaction') : err;
}

/** One store's backend on a session. */
function storeBackend(
  repo: PgRepository,
  session: PgSession,
  limits: RecordedLimits | null,
  setLimits: (limits: RecordedLimits | null) => Promise<void>,
): StoreBackend<'async'> {
  return {
    repo,
    limits,
    setLimits,
    classify: classifyPgError,
    transaction: async (fn) => {
      try {
        return await session.transaction((tx) => fn(storeBackend(repo.on(tx), tx, limits, setLimits)));
      } catch (err) {
        throw transactionError(err);
      }
    },
    close: async () => {},
  };
}

/** A PostgreSQL database (one schema of it) for the async stores. */
export class PgDatabaseBackend implements DatabaseBackend {
  readonly capabilities = PG_CAPABILITIES;
  readonly names = PG_NAMES;
  readonly #session: PgSession;
  readonly #place: PgPlace;
  readonly #close: () => Promise<void>;

  /** @param close - ends what the library opened (its pool); nothing for an app's own */
  constructor(session: PgSession, place: PgPlace, close: () => Promise<void>) {
    this.#session = session;
    this.#place = place;
    this.#close = close;
  }

  #registry(session = this.#session): PgRegistry {
    return new PgRegistry(session, this.#place);
  }

  async openStore(name: string, options: ResolvedStoreOptions): Promise<StoreBackend<'async'>> {
    const schema = this.#place.schema;
    const table = pgKvTable(name, schema === undefined ? {} : { schema });
    const lockPrefix = this.#place.qualified(name);
    if (options.tables === 'external') {
      const problems = await externalTableProblems(this.#session, this.#place, name);
      if (problems.length > 0) {
        throw new KVError(
          'ERR_KV_SCHEMA_MISMATCH',
          `table ${lockPrefix} does not match pgKvTable("${name}"), and with tables: 'external' drizzle-kv changes nothing: ${problems.join('; ')}`,
        );
      }
      const queries = new PgQueries(table, pgBookkeeping(schema), undefined);
      const unguarded = new PgRepository(this.#session, queries, lockPrefix, false, async () => new Error('unguarded'));
      return storeBackend(unguarded, this.#session, null, async () => {});
    }
    const serializer = options.serializer.name;
    const limits = await runAsync(plans.ensureStore(this.#registry(), name, serializer, options.limits));
    const guard = { table: name, version: PG_FORMAT.store.length, serializer };
    const queries = new PgQueries(table, pgBookkeeping(schema), guard);
    const stale = () => runAsync(plans.staleStoreError(this.#registry(), name, serializer));
    const setLimits = (next: RecordedLimits | null) => runAsync(plans.setStoreLimits(this.#registry(), name, serializer, next));
    return storeBackend(new PgRepository(this.#session, queries, lockPrefix, true, stale), this.#session, limits, setLimits);
  }

  stores(): Promise<StoreInfo[]> {
    return runAsync(plans.listStores(this.#registry()));
  }

  inspect(): Promise<FormatReport> {
    return runAsync(plans.inspectFormat(this.#registry()));
  }

  migrate(): Promise<string[]> {
    return runAsync(plans.migrateAll(this.#registry()));
  }

  drop(name: string, force: boolean): Promise<boolean> {
    return runAsync(plans.dropStore(this.#registry(), name, force));
  }

  async transaction<T>(fn: (backend: DatabaseBackend) => Promise<T>): Promise<T> {
    try {
      return await this.#session.transaction((tx) => fn(new PgDatabaseBackend(tx, this.#place, async () => {})));
    } catch (err) {
      throw transactionError(err);
    }
  }

  classify(err: unknown, operation: string): unknown {
    return classifyPgError(err, operation);
  }

  close(): Promise<void> {
    return this.#close();
  }
}
