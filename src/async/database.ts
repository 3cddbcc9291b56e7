import type { DropOptions, FormatReport, KVDatabaseApi, StoreInfo } from '../core/api';
import { describe } from '../core/describe';
import { KVError, KVTypeError } from '../core/errors';
import { assertStoreName } from '../core/names';
import { type KVStoreOptions, type ResolvedStoreOptions, assertOptionsObject, resolveStoreOptions } from '../core/options';
import type { DatabaseBackend } from '../core/ports';
import { StoreRules } from '../core/rules';
import { AsyncKVStore } from './store';

/** Whether two resolved store options would make the same store. */
function sameOptions(a: ResolvedStoreOptions, b: ResolvedStoreOptions): boolean {
  return a.serializer === b.serializer && a.defaultTtl === b.defaultTtl && a.clock === b.clock && a.tables === b.tables;
}

const BINDING = Symbol('drizzle-kv async database binding');

/**
 * One database holding any number of named stores, each its own table, on
 * any engine, with every method returning a promise: the same contract as
 * the SQLite `KVDatabase` ({@link KVDatabaseApi}). Open one with
 * `openDatabase()` from `drizzle-kv/pg`, `drizzle-kv/libsql` or `drizzle-kv/sqlite`.
 *
 * @example
 * ```ts
 * import { openDatabase } from 'drizzle-kv/pg';
 * await using db = await openDatabase(pool);
 * const sessions = await db.store('sessions', { defaultTtl: 3600 });
 * ```
 */
export class AsyncKVDatabase implements KVDatabaseApi<'async', AsyncKVStore<unknown>, KVStoreOptions>, AsyncDisposable {
  #backend: DatabaseBackend | undefined;
  /** The stores opened from this database and not closed yet, with what they were opened with. */
  readonly #open = new Map<AsyncKVStore<unknown>, { name: string; options: ResolvedStoreOptions }>();

  /** @internal Databases are opened by an engine's `openDatabase()`. */
  constructor(key: typeof BINDING, backend: DatabaseBackend);
  constructor(key: unknown, backend: DatabaseBackend) {
    if (key !== BINDING) throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', 'open an AsyncKVDatabase with openDatabase() from drizzle-kv/pg, /libsql or /sqlite');
    this.#backend = backend;
  }

  /** @internal */
  static open(backend: DatabaseBackend): AsyncKVDatabase {
    return new AsyncKVDatabase(BINDING, backend);
  }

  async store<V = unknown>(name: string, options?: KVStoreOptions): Promise<AsyncKVStore<V>> {
    const backend = this.#use('store');
    assertStoreName(name, backend.names);
    const resolved = resolveStoreOptions(options);
    for (const [open, opened] of this.#open) {
      if (opened.name === name && sameOptions(opened.options, resolved)) return open as AsyncKVStore<V>;
    }
    return (await this.#openStore(backend, name, resolved)) as AsyncKVStore<V>;
  }

  async #openStore(backend: DatabaseBackend, name: string, options: ResolvedStoreOptions): Promise<AsyncKVStore<unknown>> {
    let storeBackend;
    try {
      storeBackend = await backend.openStore(name, options);
    } catch (err) {
      throw backend.classify(err, `open store "${name}"`);
    }
    if (this.#backend === undefined) {
      await storeBackend.close();
      throw new KVError('ERR_KV_CLOSED', `store: the database was closed while store "${name}" was opening`);
    }
    const store = AsyncKVStore.open<unknown>({
      name,
      rules: new StoreRules(options, backend.capabilities),
      backend: storeBackend,
      onClose: (closed) => this.#open.delete(closed),
    });
    this.#open.set(store, { name, options });
    return store;
  }

  async stores(): Promise<StoreInfo[]> {
    return this.#run('stores', (backend) => backend.stores());
  }

  async inspect(): Promise<FormatReport> {
    return this.#run('inspect', (backend) => backend.inspect());
  }

  async migrate(): Promise<string[]> {
    return this.#run('migrate', (backend) => backend.migrate());
  }

  async drop(name: string, options?: DropOptions): Promise<boolean> {
    const backend = this.#use('drop');
    assertStoreName(name, backend.names);
    if (options !== undefined) assertOptionsObject(options, ['force'], 'drop: ');
    const force = options?.force ?? false;
    if (typeof force !== 'boolean') {
      throw new KVTypeError('ERR_KV_INVALID_OPTION', `drop: option "force" must be a boolean, got ${describe(force)}`);
    }
    const dropped = await this.#run('drop', (b) => b.drop(name, force));
    // Only now that the table is gone: a drop that failed leaves open handles working.
    if (dropped) await Promise.all([...this.#open].filter(([, opened]) => opened.name === name).map(([store]) => store.close()));
    return dropped;
  }

  /**
   * Runs `fn` in one transaction, so writes to several stores of this
   * database are atomic together. Open the stores from the database `fn` is
   * given: stores of the outer database run outside the transaction.
   */
  async transaction<T>(fn: (db: AsyncKVDatabase) => Promise<T>): Promise<T> {
    const backend = this.#use('transaction');
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `transaction: expected a function, got ${describe(fn)}`);
    }
    return backend.transaction(async (bound) => {
      const tx = AsyncKVDatabase.open(bound);
      try {
        return await fn(tx);
      } finally {
        tx.#backend = undefined; // the transaction's stores end with it
        for (const store of tx.#open.keys()) await store.close();
      }
    });
  }

  get closed(): boolean {
    return this.#backend === undefined;
  }

  async close(): Promise<void> {
    const backend = this.#backend;
    if (backend === undefined) return;
    this.#backend = undefined;
    for (const store of [...this.#open.keys()]) await store.close();
    await backend.close();
  }

  /** Closes the database at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #run<T>(operation: string, fn: (backend: DatabaseBackend) => Promise<T>): Promise<T> {
    const backend = this.#use(operation);
    try {
      return await fn(backend);
    } catch (err) {
      throw backend.classify(err, operation);
    }
  }

  #use(operation: string): DatabaseBackend {
    const backend = this.#backend;
    if (backend === undefined) throw new KVError('ERR_KV_CLOSED', `${operation}: the database is closed`);
    return backend;
  }
}
