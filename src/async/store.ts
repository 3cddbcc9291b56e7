import type { EntriesOptions, KVStoreApi, ListOptions, ManyEntries, StoreStats, WriteOptions } from '../core/api';
import { BackgroundFlush } from '../core/flush';
import { runAsync } from '../core/format';
import { type Limits, resolveLimits } from '../core/limits';
import { COUNTER_BYTES, Upkeep } from '../core/upkeep';
import { type EncodedValue, entrySize } from '../schema/value';
import { describe } from '../core/describe';
import { KVError, KVTypeError } from '../core/errors';
import type { KeyRange } from '../core/key-range';
import type { Repository, StoreBackend } from '../core/ports';
import { PURGE_BATCH, type StoreRules, isTransient, needsExplaining } from '../core/rules';
import type { Ttl } from '../core/ttl';

/** What an engine opens an {@link AsyncKVStore} with. @internal */
export interface AsyncStoreBinding {
  readonly name: string;
  readonly rules: StoreRules;
  readonly backend: StoreBackend<'async'>;
  /** The upkeep of the handle this one is a transaction's view of (shared, so counts and reads are one handle's). */
  readonly upkeep?: Upkeep;
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
  readonly #upkeep: Upkeep;
  readonly #flush: BackgroundFlush;
  /** Whether this is the handle (not a transaction's view of it), which folds its upkeep in when it closes. */
  readonly #ownsUpkeep: boolean;

  /** @internal Stores are opened by an engine's `openStore()` or `AsyncKVDatabase#store()`. */
  constructor(key: typeof BINDING, binding: AsyncStoreBinding);
  constructor(key: unknown, binding: AsyncStoreBinding) {
    if (key !== BINDING) throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', 'open an AsyncKVStore with openStore() from drizzle-kv/pg, /libsql or /sqlite');
    this.name = binding.name;
    this.#backend = binding.backend;
    this.#rules = binding.rules;
    this.#onClose = binding.onClose;
    const { options } = binding.rules;
    this.#upkeep = binding.upkeep ?? new Upkeep(binding.backend.limits, options.stats === 'persisted', options.tables === 'managed');
    this.#flush = new BackgroundFlush(() => (this.#backend !== undefined && this.#upkeep.pending ? this.#fold('flush') : undefined));
    this.#ownsUpkeep = binding.upkeep === undefined;
    if (this.#upkeep.persisted && this.#ownsUpkeep) this.#flush.start();
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
    return this.#run('get', async (repo) => {
      const row = await repo.read(key);
      const now = rules.now();
      if (!rules.isLive(row, now)) {
        this.#upkeep.count('misses');
        return defaultValue;
      }
      const value = rules.decode(row[0], key);
      this.#hit(key, now);
      return value;
    });
  }

  async set(key: string, value: V, ttl?: Ttl | WriteOptions): Promise<void> {
    const rules = this.#rules;
    rules.key(key, 'set');
    const now = rules.now();
    const { expiresAt, tags } = rules.write(ttl, now, 'set');
    const data = rules.encode(value, 'set');
    return this.#write('set', 1, () => entrySize(key, data), now, async (repo) => {
      this.#upkeep.count('expirations', await repo.write(key, data, expiresAt, now, rules.cullBudget(1), tags));
      this.#upkeep.count('sets');
    });
  }

  async add(key: string, value: V, ttl?: Ttl | WriteOptions): Promise<boolean> {
    const rules = this.#rules;
    rules.key(key, 'add');
    const now = rules.now();
    const { expiresAt, tags } = rules.write(ttl, now, 'add');
    const data = rules.encode(value, 'add');
    return this.#write('add', 1, () => entrySize(key, data), now, async (repo) => {
      const stored = await repo.writeIfAbsent(key, data, expiresAt, now, tags);
      if (stored) this.#upkeep.count('sets');
      return stored;
    });
  }

  async has(key: string): Promise<boolean> {
    const rules = this.#rules;
    rules.key(key, 'has');
    return this.#run('has', async (repo) => rules.secondsLeft(await repo.expiry(key), rules.now()) !== undefined);
  }

  async delete(key: string): Promise<boolean> {
    const rules = this.#rules;
    rules.key(key, 'delete');
    return this.#run('delete', async (repo) => {
      const removed = rules.secondsLeft(await repo.remove(key), rules.now()) !== undefined;
      if (removed) this.#upkeep.count('deletes');
      return removed;
    });
  }

  pop(key: string): Promise<V | undefined>;
  pop<D>(key: string, defaultValue: D): Promise<V | D>;
  async pop(key: string, defaultValue?: unknown): Promise<unknown> {
    const rules = this.#rules;
    rules.key(key, 'pop');
    return this.#run('pop', async (repo) => {
      const row = await repo.take(key);
      if (!rules.isLive(row, rules.now())) return defaultValue;
      this.#upkeep.count('deletes');
      return rules.decode(row[0], key);
    });
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
    return this.#write(operation, 1, () => entrySize(key, '') + COUNTER_BYTES, rules.now(), async (repo) => {
      const result = await repo.update(key, (row) => rules.increment(row, key, delta, operation));
      this.#upkeep.count('sets');
      return result;
    });
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
        if (rules.isLive(row, now)) {
          found.set(key, rules.decode(row[0], key) as V);
          this.#hit(key, now);
        } else {
          this.#upkeep.count('misses');
        }
      });
      return found;
    });
  }

  async setMany(entries: ManyEntries<V>, ttl?: Ttl | WriteOptions): Promise<void> {
    const rules = this.#rules;
    const now = rules.now();
    const { expiresAt, tags } = rules.write(ttl, now, 'setMany');
    const { keys, values } = rules.batch(entries, 'setMany');
    return this.#write('setMany', keys.length, () => keys.reduce((n, k, i) => n + entrySize(k, values[i] as EncodedValue), 0), now, async (repo) => {
      this.#upkeep.count('expirations', await repo.writeMany(keys, values, expiresAt, now, rules.cullBudget(keys.length, true), tags));
      this.#upkeep.count('sets', keys.length);
    });
  }

  async invalidateTag(tag: string): Promise<number> {
    const checked = this.#rules.tag(tag, 'invalidateTag');
    return this.#run('invalidateTag', async (repo) => {
      const deleted = await repo.invalidate(checked);
      this.#upkeep.count('deletes', deleted);
      return deleted;
    });
  }

  async tagsOf(key: string): Promise<string[] | undefined> {
    const rules = this.#rules;
    rules.key(key, 'tagsOf');
    return this.#run('tagsOf', (repo) => repo.tagsOf(key, rules.now()));
  }

  async stats(): Promise<StoreStats> {
    return this.#run('stats', (repo) => runAsync(this.#upkeep.stats(repo)));
  }

  async resetStats(): Promise<void> {
    const upkeep = this.#upkeep;
    return this.#run('resetStats', async (repo) => {
      if (upkeep.persisted) await repo.resetCounts();
      upkeep.reset();
    });
  }

  async setLimits(limits: Limits | null): Promise<void> {
    const resolved = resolveLimits(limits, 'setLimits');
    const backend = this.#use('setLimits');
    this.#upkeep.assertManaged('setLimits', this.name);
    try {
      await backend.setLimits(resolved);
    } catch (err) {
      throw backend.classify(err, 'setLimits');
    }
    this.#upkeep.limits = resolved;
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
    return this.#run('clear', async (repo) => {
      const deleted = await repo.clear(range);
      this.#upkeep.count('deletes', deleted);
      return deleted;
    });
  }

  async purgeExpired(): Promise<number> {
    return this.#run('purgeExpired', async (repo) => {
      let total = 0;
      for (;;) {
        const n = await repo.cull(this.#rules.now(), PURGE_BATCH);
        total += n;
        this.#upkeep.count('expirations', n);
        if (n < PURGE_BATCH) return total;
      }
    });
  }

  async transaction<T>(fn: (store: this) => Promise<T>): Promise<T> {
    const backend = this.#use('transaction');
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `transaction: expected a function, got ${describe(fn)}`);
    }
    return backend.transaction((bound) =>
      fn(AsyncKVStore.open<V>({ name: this.name, rules: this.#rules, backend: bound, upkeep: this.#upkeep }) as this),
    );
  }

  get closed(): boolean {
    return this.#backend === undefined;
  }

  async close(): Promise<void> {
    if (this.#backend === undefined) return;
    this.#flush.stop();
    // A transaction's view shares its handle's upkeep: the handle folds it in.
    if (this.#upkeep.pending && this.#ownsUpkeep) await this.#fold('close').catch(() => undefined);
    const backend = this.#backend;
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

  /** A live read of `key`: counted, and under LRU/LFU remembered for a later write to fold in. */
  #hit(key: string, now: number): void {
    this.#upkeep.hit(key, now);
    if (this.#upkeep.pending) this.#flush.start();
  }

  /** Folds what reads recorded into the database, as a write of nothing (and keeps the store within its limits). */
  #fold(operation: string): Promise<void> {
    return this.#write(operation, 0, () => 0, this.#rules.now(), async () => undefined);
  }

  /**
   * Runs a write of `written` rows, as `operation`, then the upkeep after it
   * (eviction, reads, statistics): in one transaction with it when the
   * store refuses overfilling (eviction `'none'`: an overfilling write is
   * undone whole), otherwise just after it, keeping the write's locks short.
   */
  async #write<T>(operation: string, written: number, bytes: () => number, now: number, fn: (repo: Repository<'async'>) => Promise<T>): Promise<T> {
    const upkeep = this.#upkeep;
    if (!upkeep.due(written, bytes)) return this.#run(operation, fn);
    if (upkeep.refusesOverfill) {
      const backend = this.#use(operation);
      return this.#run(operation, () =>
        backend.transaction(async (bound) => {
          const result = await fn(bound.repo);
          await runAsync(upkeep.afterWrite(bound.repo, this.name, now, written, operation));
          return result;
        }),
      );
    }
    const backend = this.#use(operation);
    return this.#run(operation, async (repo) => {
      const result = await fn(repo);
      try {
        await runAsync(upkeep.afterWrite(repo, this.name, now, written, operation));
      } catch (err) {
        // The write landed; after a passing failure the next one checks the limits again and folds in what is pending.
        if (written === 0 || !isTransient(backend.classify(err, operation))) throw err;
      }
      return result;
    });
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
