import type { EntriesOptions, KVStoreApi, ListOptions, ManyEntries } from '../core/api';
import { describe } from '../core/describe';
import { KVError, KVTypeError } from '../core/errors';
import type { KeyRange } from '../core/key-range';
import type { Repository, StoreBackend } from '../core/ports';
import { PURGE_BATCH, type StoreRules, needsExplaining } from '../core/rules';
import type { Ttl } from '../core/ttl';

/** What an engine opens an {@link AsyncKVStore} with. @internal */
export interface AsyncStoreBinding {
  readonly name: string;
  readonly rules: StoreRules;
  readonly backend: StoreBackend<'async'>;
  /** Called once when the store closes. */
  readonly onClose?: (store: AsyncKVStore<unknown>) => void;
}

const BINDING = Symbol('drizzle-kv async store binding');

/**
 * A persistent key-value store whose every method returns a promise: the
 * same contract as the SQLite `KVStore` ({@link KVStoreApi}), on
 * PostgreSQL, libSQL or SQLite. Open one with `openStore()` from
 * `drizzle-kv/pg`, `drizzle-kv/libsql` or `drizzle-kv/sqlite`.
 *
 * @typeParam V - the type of the values (checked at run time only by the serializer)
 *
 * @example
 * ```ts
 * import { openStore } from 'drizzle-kv/pg';
 * await using store = await openStore(process.env.DATABASE_URL, { table: 'sessions' });
 * await store.set('session:abc', { user: 1 }, 3600);
 * await store.get('session:abc'); // { user: 1 }
 * ```
 */
export class AsyncKVStore<V = unknown> implements KVStoreApi<'async', V>, AsyncDisposable, AsyncIterable<[string, V]> {
  readonly name: string;
  #backend: StoreBackend<'async'> | undefined;
  readonly #rules: StoreRules;
  readonly #onClose: ((store: AsyncKVStore<unknown>) => void) | undefined;

  /** @internal Stores are opened by an engine's `openStore()` or `AsyncKVDatabase#store()`. */
  constructor(key: typeof BINDING, binding: AsyncStoreBinding);
  constructor(key: unknown, binding: AsyncStoreBinding) {
    if (key !== BINDING) throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', 'open an AsyncKVStore with openStore() from drizzle-kv/pg, /libsql or /sqlite');
    this.name = binding.name;
    this.#backend = binding.backend;
    this.#rules = binding.rules;
    this.#onClose = binding.onClose;
  }

  /** @internal */
  static open<V>(binding: AsyncStoreBinding): AsyncKVStore<V> {
    return new AsyncKVStore<V>(BINDING, binding);
  }

  get(key: string): Promise<V | undefined>;
  get<D>(key: string, defaultValue: D): Promise<V | D>;
  async get(key: string, defaultValue?: unknown): Promise<unknown> {
    const rules = this.#rules;
    rules.key(key, 'get');
    return this.#run('get', async (repo) => rules.valueOf(await repo.read(key), key, rules.now(), defaultValue));
  }

  async set(key: string, value: V, ttl?: Ttl): Promise<void> {
    const rules = this.#rules;
    rules.key(key, 'set');
    const now = rules.now();
    const expiresAt = rules.expiry(ttl, now, 'set');
    const data = rules.encode(value, 'set');
    return this.#run('set', (repo) => repo.write(key, data, expiresAt, now, rules.cullBudget(1)));
  }

  async add(key: string, value: V, ttl?: Ttl): Promise<boolean> {
    const rules = this.#rules;
    rules.key(key, 'add');
    const now = rules.now();
    const expiresAt = rules.expiry(ttl, now, 'add');
    const data = rules.encode(value, 'add');
    return this.#run('add', (repo) => repo.writeIfAbsent(key, data, expiresAt, now));
  }

  async has(key: string): Promise<boolean> {
    const rules = this.#rules;
    rules.key(key, 'has');
    return this.#run('has', async (repo) => rules.secondsLeft(await repo.expiry(key), rules.now()) !== undefined);
  }

  async delete(key: string): Promise<boolean> {
    const rules = this.#rules;
    rules.key(key, 'delete');
    return this.#run('delete', async (repo) => rules.secondsLeft(await repo.remove(key), rules.now()) !== undefined);
  }

  pop(key: string): Promise<V | undefined>;
  pop<D>(key: string, defaultValue: D): Promise<V | D>;
  async pop(key: string, defaultValue?: unknown): Promise<unknown> {
    const rules = this.#rules;
    rules.key(key, 'pop');
    return this.#run('pop', async (repo) => rules.valueOf(await repo.take(key), key, rules.now(), defaultValue));
  }

  async touch(key: string, ttl?: Ttl): Promise<boolean> {
    const rules = this.#rules;
    rules.key(key, 'touch');
    const now = rules.now();
    const expiresAt = rules.expiry(ttl, now, 'touch');
    return this.#run('touch', (repo) => repo.setExpiry(key, expiresAt, now));
  }

  async ttl(key: string): Promise<number | undefined> {
    const rules = this.#rules;
    rules.key(key, 'ttl');
    return this.#run('ttl', async (repo) => rules.secondsLeft(await repo.expiry(key), rules.now()));
  }

  async incr(key: string, by = 1): Promise<number> {
    return this.#increment(key, by, 1, 'incr');
  }

  async decr(key: string, by = 1): Promise<number> {
    return this.#increment(key, by, -1, 'decr');
  }

  /** `incr` and `decr`: adds `sign * by`, atomically. */
  async #increment(key: string, by: number, sign: 1 | -1, operation: string): Promise<number> {
    const rules = this.#rules;
    rules.key(key, operation);
    const delta = rules.delta(by, sign, operation);
    return this.#run(operation, (repo) => repo.update(key, (row) => rules.increment(row, key, delta, operation)));
  }

  async getMany(keys: Iterable<string>): Promise<Map<string, V>> {
    const rules = this.#rules;
    const list = rules.keyList(keys, 'getMany');
    return this.#run('getMany', async (repo) => {
      const rows = await repo.readMany(list);
      const now = rules.now();
      const found = new Map<string, V>();
      rows.forEach((row, i) => {
        const key = list[i] as string;
        if (rules.isLive(row, now)) found.set(key, rules.decode(row[0], key) as V);
      });
      return found;
    });
  }

  async setMany(entries: ManyEntries<V>, ttl?: Ttl): Promise<void> {
    const rules = this.#rules;
    const now = rules.now();
    const expiresAt = rules.expiry(ttl, now, 'setMany');
    const { keys, values } = rules.batch(entries, 'setMany');
    return this.#run('setMany', (repo) => repo.writeMany(keys, values, expiresAt, now, rules.cullBudget(keys.length, true)));
  }

  async keys(options?: ListOptions): Promise<string[]> {
    const rules = this.#rules;
    const range = rules.range(options, 'keys');
    return this.#run('keys', (repo) => repo.keys(range, rules.now()));
  }

  async values(options?: ListOptions): Promise<V[]> {
    return (await this.#decodedRows(options, 'values')).map((entry) => entry[1]);
  }

  async items(options?: ListOptions): Promise<[string, V][]> {
    return this.#decodedRows(options, 'items');
  }

  entries(options?: EntriesOptions): AsyncIterableIterator<[string, V]> {
    this.#use('entries');
    const range = this.#rules.range(options, 'entries');
    return this.#iterate(range, this.#rules.batchSize(options, 'entries'));
  }

  /** Same as {@link AsyncKVStore.entries} with default options: `for await (const [key, value] of store)`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<[string, V]> {
    return this.entries();
  }

  get size(): Promise<number> {
    return this.#run('size', (repo) => repo.count(this.#rules.now()));
  }

  async clear(options?: ListOptions): Promise<number> {
    const range = this.#rules.clearRange(options, 'clear');
    return this.#run('clear', (repo) => repo.clear(range));
  }

  async purgeExpired(): Promise<number> {
    return this.#run('purgeExpired', async (repo) => {
      let total = 0;
      for (;;) {
        const n = await repo.cull(this.#rules.now(), PURGE_BATCH);
        total += n;
        if (n < PURGE_BATCH) return total;
      }
    });
  }

  async transaction<T>(fn: (store: this) => Promise<T>): Promise<T> {
    const backend = this.#use('transaction');
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `transaction: expected a function, got ${describe(fn)}`);
    }
    return backend.transaction((bound) => fn(AsyncKVStore.open<V>({ name: this.name, rules: this.#rules, backend: bound }) as this));
  }

  get closed(): boolean {
    return this.#backend === undefined;
  }

  async close(): Promise<void> {
    const backend = this.#backend;
    if (backend === undefined) return;
    this.#backend = undefined;
    try {
      await backend.close();
    } finally {
      this.#onClose?.(this as AsyncKVStore<unknown>);
    }
  }

  /** Closes the store at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Runs `fn` on the repository, as `operation`: a closed store is
   * `ERR_KV_CLOSED`, a driver error becomes a typed one, and a table that
   * vanished or a value that cannot be read is first explained from the
   * registry (the store dropped, migrated by a newer release, or recreated).
   */
  async #run<T>(operation: string, fn: (repo: Repository<'async'>) => Promise<T>): Promise<T> {
    const backend = this.#use(operation);
    try {
      return await fn(backend.repo);
    } catch (err) {
      const error = backend.classify(err, operation);
      if (needsExplaining(error)) await backend.repo.assertCurrent(); // throws the registry's explanation, if it has one
      throw error;
    }
  }

  #use(operation: string): StoreBackend<'async'> {
    const backend = this.#backend;
    if (backend === undefined) throw new KVError('ERR_KV_CLOSED', `${operation}: store "${this.name}" is closed`);
    return backend;
  }

  async #decodedRows(options: ListOptions | undefined, operation: string): Promise<[string, V][]> {
    const rules = this.#rules;
    const range = rules.range(options, operation);
    return this.#run(operation, async (repo) => (await repo.entries(range, rules.now())).map(([key, data]) => [key, rules.decode(data, key) as V]));
  }

  async *#iterate(range: KeyRange, batchSize: number): AsyncGenerator<[string, V], undefined, undefined> {
    const rules = this.#rules;
    let after: string | undefined;
    for (;;) {
      const rows = await this.#run('entries', (repo) => repo.page(range, after, rules.now(), batchSize));
      for (const [key, data] of rows) yield [key, await this.#run('entries', async () => rules.decode(data, key) as V)];
      const last = rows[rows.length - 1];
      if (rows.length < batchSize || last === undefined) return;
      after = last[0];
    }
  }
}
