import type { FormatReport, StoreInfo } from '../../core/api';
import { SQLITE_NAMES } from '../../core/names';
import type { ResolvedStoreOptions } from '../../core/options';
import type { DatabaseBackend, Repository, StoreBackend } from '../../core/ports';
import { SQLITE_CAPABILITIES } from '../capabilities';
import type { Connection } from '../connection';
import { toKVError } from '../errors';
import { dropStore, inspectFormat, listStores, migrateAll, setStoreLimits } from '../migrator';
import { type PreparedStore, prepareStore } from '../open-store';
import type { KVRepository } from '../repository';
import { ConnectionGate } from './busy';

/** Runs a synchronous call for the async view: through the gate, or directly inside a transaction that holds the connection. */
type Runner = <T>(fn: () => T) => Promise<T>;

/** Every query of a repository: what the async view forwards. */
const REPOSITORY_METHODS = [
  'read', 'readMany', 'expiry', 'write', 'writeMany', 'writeIfAbsent', 'update', 'remove', 'take', 'setExpiry',
  'keys', 'entries', 'page', 'count', 'clear', 'cull', 'invalidate', 'tagsOf', 'usage', 'measure', 'evict', 'recordAccess',
  'addCounts', 'counts', 'resetCounts', 'assertCurrent',
] as const satisfies readonly (keyof Repository<'sync'>)[];

/** The sync repository seen through a runner: the same queries, answered as promises. */
function asyncView(repo: KVRepository, run: Runner): Repository<'async'> {
  const view: Record<string, unknown> = {};
  for (const method of REPOSITORY_METHODS) {
    const query = repo[method] as (...args: unknown[]) => unknown;
    view[method] = (...args: unknown[]) => run(() => query.apply(repo, args));
  }
  return view as unknown as Repository<'async'>;
}

/** Inside a transaction that holds the connection: calls run at once (the lock is this connection's). */
const direct: Runner = async (fn) => fn();

/**
 * One SQLite connection's transactions for the async stores: the outermost
 * is `BEGIN IMMEDIATE` through the gate (other calls on the connection wait
 * for it); nested ones are savepoints. What `fn` throws is the caller's and
 * passes unchanged; a failed BEGIN or COMMIT becomes a typed error.
 */
class Transactions {
  #depth = 0;
  constructor(
    readonly connection: Connection,
    readonly gate: ConnectionGate,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const { client } = this.connection;
    if (this.#depth > 0) {
      const name = `drizzle_kv_${this.#depth}`;
      client.exec(`SAVEPOINT ${name}`);
      this.#depth++;
      try {
        const result = await fn();
        client.exec(`RELEASE ${name}`);
        return result;
      } catch (err) {
        client.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
        throw err;
      } finally {
        this.#depth--;
      }
    }
    let began = false;
    try {
      return await this.gate.exclusive(
        () => {
          client.exec('BEGIN IMMEDIATE');
          began = true;
        },
        async () => {
          this.#depth = 1;
          try {
            const result = await fn();
            client.exec('COMMIT');
            return result;
          } catch (err) {
            if (client.inTransaction) client.exec('ROLLBACK');
            throw err;
          } finally {
            this.#depth = 0;
          }
        },
      );
    } catch (err) {
      if (!began) throw toKVError(err, 'transaction');
      throw err;
    }
  }
}

/** One store's backend: its repository through the gate (or inside a transaction, directly). */
function storeBackend(store: PreparedStore, name: string, options: ResolvedStoreOptions, tx: Transactions, inTransaction: boolean): StoreBackend<'async'> {
  const run: Runner = inTransaction ? direct : (fn) => tx.gate.run(fn);
  const backend: StoreBackend<'async'> = {
    repo: asyncView(store.repo, run),
    limits: store.limits,
    setLimits: (limits) => run(() => setStoreLimits(tx.connection, name, options.serializer.name, limits)),
    classify: toKVError,
    transaction: (fn) => tx.run(() => fn(inTransaction ? backend : storeBackend(store, name, options, tx, true))),
    close: async () => {},
  };
  return backend;
}

/**
 * The async stores' view of one SQLite connection: the same repository,
 * registry and migrator as the sync `KVStore`, with every wait for another
 * process's lock on a timer instead of in the driver.
 */
export class SqliteDatabaseBackend implements DatabaseBackend {
  readonly capabilities = SQLITE_CAPABILITIES;
  readonly names = SQLITE_NAMES;
  readonly #tx: Transactions;
  readonly #run: Runner;
  readonly #inTransaction: boolean;

  constructor(connection: Connection, timeout: number, tx?: Transactions) {
    this.#tx = tx ?? new Transactions(connection, new ConnectionGate(timeout));
    this.#inTransaction = tx !== undefined;
    this.#run = this.#inTransaction ? direct : (fn) => this.#tx.gate.run(fn);
  }

  get #connection(): Connection {
    return this.#tx.connection;
  }

  async openStore(name: string, options: ResolvedStoreOptions): Promise<StoreBackend<'async'>> {
    const store = await this.#run(() => prepareStore(this.#connection, name, options));
    return storeBackend(store, name, options, this.#tx, this.#inTransaction);
  }

  stores(): Promise<StoreInfo[]> {
    return this.#run(() => listStores(this.#connection));
  }

  inspect(): Promise<FormatReport> {
    return this.#run(() => inspectFormat(this.#connection));
  }

  migrate(): Promise<string[]> {
    return this.#run(() => migrateAll(this.#connection));
  }

  drop(name: string, force: boolean): Promise<boolean> {
    return this.#run(() => dropStore(this.#connection, name, force));
  }

  transaction<T>(fn: (backend: DatabaseBackend) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return this.#tx.run(() => fn(this));
    return this.#tx.run(() => fn(new SqliteDatabaseBackend(this.#connection, 0, this.#tx)));
  }

  classify(err: unknown, operation: string): unknown {
    return toKVError(err, operation);
  }

  async close(): Promise<void> {
    if (!this.#inTransaction) this.#connection.close();
  }
}
