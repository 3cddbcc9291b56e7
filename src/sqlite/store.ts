import type { EntriesOptions, KVStoreApi, ListOptions, ManyEntries, StoreStats, WriteOptions } from '../core/api';
import { runSync } from '../core/format';
import { type Limits, type RecordedLimits, resolveLimits } from '../core/limits';
import { COUNTER_BYTES, Upkeep } from '../core/upkeep';
import { type EncodedValue, entrySize } from '../schema/value';
import { BackgroundFlush } from '../core/flush';
import { describe } from '../core/describe';
import { KVError, KVTypeError } from '../core/errors';
import type { KeyRange } from '../core/key-range';
import { type KVStoreFileOptions, type KVStoreOptions, type ResolvedStoreOptions, resolveFileOptions } from '../core/options';
import { PURGE_BATCH, StoreRules, isTransient, needsExplaining } from '../core/rules';
import type { Ttl } from '../core/ttl';
import { SQLITE_CAPABILITIES } from './capabilities';
import { type Connection, type ConnectionSource, borrowConnection, isConnectionSource, openConnection, resolveDatabasePath } from './connection';
import { toKVError } from './errors';
import { setStoreLimits } from './migrator';
import { prepareStore } from './open-store';
import type { KVRepository } from './repository';

export type { EntriesOptions, ListOptions };

/** Marks a {@link StoreBinding}, so no app object can be mistaken for one. @internal */
export const BINDING = Symbol('drizzle-kv store binding');

function isBinding(value: unknown): value is StoreBinding {
  return typeof value === 'object' && value !== null && BINDING in value;
}

/** Options for `new KVStore(connection, options)`: the store's options and the table name. */
export interface KVStoreConnectionOptions extends KVStoreOptions {
  /**
   * Name of the store, which is its table name.
   * @default 'key_value_store'
   */
  table?: string;
}

/**
 * How a store is bound to a connection.
 * @internal
 */
export interface StoreBinding {
  readonly [BINDING]: true;
  readonly connection: Connection;
  readonly table: string;
  readonly options: ResolvedStoreOptions;
  /** Whether closing the store closes the connection (a borrowed one stays open whatever this says). */
  readonly closesConnection: boolean;
  /** Called once when the store closes. */
  readonly onClose?: (store: object) => void;
}

/**
 * A persistent key-value store: one table of an SQLite file.
 *
 * Values are JSON by default; entries may expire after a TTL in seconds.
 * Every method is synchronous, like better-sqlite3 underneath.
 *
 * @typeParam V - the type of the values (checked at run time only by the serializer)
 *
 * @example
 * ```ts
 * using store = new KVStore('cache.db');
 * store.set('user:1', { name: 'Alice', age: 30 });
 * store.set('session:abc', { token: 'xyz' }, 3600);
 * store.get('user:1'); // { name: 'Alice', age: 30 }
 * store.get('missing', 0); // 0
 * ```
 */
export class KVStore<V = unknown> implements KVStoreApi<'sync', V>, Disposable, Iterable<[string, V]> {
  readonly name: string;
  #repo: KVRepository | undefined;
  readonly #binding: StoreBinding;
  readonly #rules: StoreRules;
  readonly #upkeep: Upkeep;
  readonly #flush: BackgroundFlush;

  /**
   * Opens (creating if needed) the store `table` in the SQLite file at
   * `path`. Parent folders are created, `~` is expanded, and `':memory:'`
   * opens a private in-memory database.
   *
   * @param path - the database file
   * @param table - the store's name @defaultValue `'key_value_store'`
   */
  constructor(path: string, table?: string);
  /**
   * Opens (creating if needed) a store in the SQLite file at `path`, with options.
   */
  constructor(path: string, options?: KVStoreFileOptions);
  /**
   * Opens (creating if needed) a store on an app's own connection: a
   * better-sqlite3 `Database` or a Drizzle database made on one. The store
   * shares its transactions and leaves its settings alone; closing the store
   * does not close it.
   */
  constructor(connection: ConnectionSource, tableOrOptions?: string | KVStoreConnectionOptions);
  /** @internal */
  constructor(binding: StoreBinding);
  constructor(
    source: string | ConnectionSource | StoreBinding,
    tableOrOptions?: string | KVStoreFileOptions | KVStoreConnectionOptions,
  ) {
    let binding: StoreBinding;
    if (isBinding(source)) {
      binding = source;
    } else {
      // Everything is validated before the file is touched.
      const borrowed = isConnectionSource(source);
      const { table, database, store } = resolveFileOptions(tableOrOptions, borrowed);
      const connection = borrowed ? borrowConnection(source) : openConnection(resolveDatabasePath(source), database);
      binding = { [BINDING]: true, connection, table, options: store, closesConnection: true };
    }
    const { connection, table, options } = binding;
    let limits: RecordedLimits | null;
    try {
      const prepared = prepareStore(connection, table, options);
      this.#repo = prepared.repo;
      limits = prepared.limits;
    } catch (err) {
      if (binding.closesConnection) connection.close();
      throw toKVError(err, `open store "${table}"`);
    }
    this.name = table;
    this.#binding = binding;
    this.#rules = new StoreRules(options, SQLITE_CAPABILITIES);
    this.#upkeep = new Upkeep(limits, options.stats === 'persisted', options.tables === 'managed');
    this.#flush = new BackgroundFlush(() => {
      if (this.#repo !== undefined && this.#upkeep.pending) this.#write('flush', 0, () => 0, this.#rules.now(), () => undefined);
    });
    if (this.#upkeep.persisted) this.#flush.start();
  }

  get(key: string): V | undefined;
  get<D>(key: string, defaultValue: D): V | D;
  get(key: string, defaultValue?: unknown): unknown {
    const rules = this.#rules;
    rules.key(key, 'get');
    return this.#run('get', (repo) => {
      const row = repo.read(key);
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

  set(key: string, value: V, ttl?: Ttl | WriteOptions): void {
    const rules = this.#rules;
    rules.key(key, 'set');
    const now = rules.now();
    const { expiresAt, tags } = rules.write(ttl, now, 'set');
    const data = rules.encode(value, 'set');
    this.#write('set', 1, () => entrySize(key, data), now, (repo) => {
      this.#upkeep.count('expirations', repo.write(key, data, expiresAt, now, rules.cullBudget(1), tags));
      this.#upkeep.count('sets');
    });
  }

  add(key: string, value: V, ttl?: Ttl | WriteOptions): boolean {
    const rules = this.#rules;
    rules.key(key, 'add');
    const now = rules.now();
    const { expiresAt, tags } = rules.write(ttl, now, 'add');
    const data = rules.encode(value, 'add');
    return this.#write('add', 1, () => entrySize(key, data), now, (repo) => {
      const stored = repo.writeIfAbsent(key, data, expiresAt, now, tags);
      if (stored) this.#upkeep.count('sets');
      return stored;
    });
  }

  has(key: string): boolean {
    const rules = this.#rules;
    rules.key(key, 'has');
    return this.#run('has', (repo) => rules.secondsLeft(repo.expiry(key), rules.now()) !== undefined);
  }

  delete(key: string): boolean {
    const rules = this.#rules;
    rules.key(key, 'delete');
    return this.#run('delete', (repo) => {
      const removed = rules.secondsLeft(repo.remove(key), rules.now()) !== undefined;
      if (removed) this.#upkeep.count('deletes');
      return removed;
    });
  }

  pop(key: string): V | undefined;
  pop<D>(key: string, defaultValue: D): V | D;
  pop(key: string, defaultValue?: unknown): unknown {
    const rules = this.#rules;
    rules.key(key, 'pop');
    return this.#run('pop', (repo) => {
      const row = repo.take(key);
      if (!rules.isLive(row, rules.now())) return defaultValue;
      this.#upkeep.count('deletes');
      return rules.decode(row[0], key);
    });
  }

  touch(key: string, ttl?: Ttl): boolean {
    const rules = this.#rules;
    rules.key(key, 'touch');
    const now = rules.now();
    const expiresAt = rules.expiry(ttl, now, 'touch');
    return this.#run('touch', (repo) => repo.setExpiry(key, expiresAt, now));
  }

  ttl(key: string): number | undefined {
    const rules = this.#rules;
    rules.key(key, 'ttl');
    return this.#run('ttl', (repo) => rules.secondsLeft(repo.expiry(key), rules.now()));
  }

  incr(key: string, by = 1): number {
    return this.#increment(key, by, 1, 'incr');
  }

  decr(key: string, by = 1): number {
    return this.#increment(key, by, -1, 'decr');
  }

  /** `incr` and `decr`: adds `sign * by`, atomically. */
  #increment(key: string, by: number, sign: 1 | -1, operation: string): number {
    const rules = this.#rules;
    rules.key(key, operation);
    const delta = rules.delta(by, sign, operation);
    return this.#write(operation, 1, () => entrySize(key, '') + COUNTER_BYTES, rules.now(), (repo) => {
      const result = repo.update(key, (row) => rules.increment(row, key, delta, operation));
      this.#upkeep.count('sets');
      return result;
    });
  }

  getMany(keys: Iterable<string>): Map<string, V> {
    const rules = this.#rules;
    const list = rules.keyList(keys, 'getMany');
    return this.#run('getMany', (repo) => {
      const rows = repo.readMany(list);
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

  setMany(entries: ManyEntries<V>, ttl?: Ttl | WriteOptions): void {
    const rules = this.#rules;
    const now = rules.now();
    const { expiresAt, tags } = rules.write(ttl, now, 'setMany');
    const { keys, values } = rules.batch(entries, 'setMany');
    this.#write('setMany', keys.length, () => keys.reduce((n, k, i) => n + entrySize(k, values[i] as EncodedValue), 0), now, (repo) => {
      this.#upkeep.count('expirations', repo.writeMany(keys, values, expiresAt, now, rules.cullBudget(keys.length, true), tags));
      this.#upkeep.count('sets', keys.length);
    });
  }

  invalidateTag(tag: string): number {
    const checked = this.#rules.tag(tag, 'invalidateTag');
    return this.#run('invalidateTag', (repo) => {
      const deleted = repo.invalidate(checked);
      this.#upkeep.count('deletes', deleted);
      return deleted;
    });
  }

  tagsOf(key: string): string[] | undefined {
    const rules = this.#rules;
    rules.key(key, 'tagsOf');
    return this.#run('tagsOf', (repo) => repo.tagsOf(key, rules.now()));
  }

  stats(): StoreStats {
    return this.#run('stats', (repo) => repo.snapshot(() => runSync(this.#upkeep.stats(repo))));
  }

  resetStats(): void {
    const upkeep = this.#upkeep;
    this.#run('resetStats', (repo) => {
      if (upkeep.persisted) repo.resetCounts();
      upkeep.reset();
    });
  }

  setLimits(limits: Limits | null): void {
    const resolved = resolveLimits(limits, 'setLimits');
    this.#upkeep.assertManaged('setLimits', this.name);
    this.#run('setLimits', () => setStoreLimits(this.#binding.connection, this.name, this.#binding.options.serializer.name, resolved));
    this.#upkeep.limits = resolved;
  }

  keys(options?: ListOptions): string[] {
    const rules = this.#rules;
    const range = rules.range(options, 'keys');
    return this.#run('keys', (repo) => repo.keys(range, rules.now()));
  }

  values(options?: ListOptions): V[] {
    return this.#decodedRows(options, 'values').map((entry) => entry[1]);
  }

  items(options?: ListOptions): [string, V][] {
    return this.#decodedRows(options, 'items');
  }

  entries(options?: EntriesOptions): IterableIterator<[string, V]> {
    this.#use('entries');
    const range = this.#rules.range(options, 'entries');
    return this.#iterate(range, this.#rules.batchSize(options, 'entries'));
  }

  /** Same as {@link KVStore.entries} with default options: `for (const [key, value] of store)`. */
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  get size(): number {
    return this.#run('size', (repo) => repo.count(this.#rules.now()));
  }

  clear(options?: ListOptions): number {
    const range = this.#rules.clearRange(options, 'clear');
    return this.#run('clear', (repo) => {
      const deleted = repo.clear(range);
      this.#upkeep.count('deletes', deleted);
      return deleted;
    });
  }

  purgeExpired(): number {
    return this.#run('purgeExpired', (repo) => {
      let total = 0;
      for (;;) {
        const n = repo.cull(this.#rules.now(), PURGE_BATCH);
        total += n;
        this.#upkeep.count('expirations', n);
        if (n < PURGE_BATCH) return total;
      }
    });
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction: it holds the write lock from the
   * start, so its reads and writes are atomic with respect to every other
   * connection and process. If `fn` throws, nothing it wrote is kept.
   * Nested calls (also from {@link KVDatabase.transaction}) become savepoints.
   *
   * `fn` must be synchronous: a transaction cannot stay open across `await`.
   */
  transaction<T>(fn: (store: this) => T): T {
    this.#use('transaction');
    if (typeof fn !== 'function') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `transaction: expected a function, got ${describe(fn)}`);
    }
    return this.#binding.connection.callerTransaction(() => fn(this), 'transaction');
  }

  /** Whether {@link KVStore.close} has been called (or the database holding the store was closed). */
  get closed(): boolean {
    return this.#repo === undefined;
  }

  /**
   * Closes the store; when it opened its own file, closes the file too. Any
   * later call is an `ERR_KV_CLOSED` error. Closing twice is harmless.
   */
  close(): void {
    if (this.#repo === undefined) return;
    this.#flush.stop();
    if (this.#upkeep.pending) {
      try {
        this.#write('close', 0, () => 0, this.#rules.now(), () => undefined);
      } catch {
        // What was not folded in is approximate by design (docs/eviction.md): closing never fails for it.
      }
    }
    this.#repo = undefined;
    if (this.#binding.closesConnection) this.#binding.connection.close();
    this.#binding.onClose?.(this);
  }

  /** Closes the store at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Runs `fn` on the repository, as `operation`: a closed store is
   * `ERR_KV_CLOSED`, a driver error becomes a typed one, and a table that
   * vanished or a value that cannot be read is first explained from the
   * registry (the store dropped, migrated by a newer release, or recreated).
   */
  #run<T>(operation: string, fn: (repo: KVRepository) => T): T {
    const repo = this.#use(operation);
    try {
      return fn(repo);
    } catch (err) {
      const error = toKVError(err, operation);
      if (needsExplaining(error)) repo.assertCurrent(); // throws the registry's explanation, if it has one
      throw error;
    }
  }

  /** A live read of `key`: counted, and under LRU/LFU remembered for a later write to fold in. */
  #hit(key: string, now: number): void {
    this.#upkeep.hit(key, now);
    if (this.#upkeep.pending) this.#flush.start();
  }

  /**
   * Runs a write of `written` rows, as `operation`, then the upkeep after it
   * (reads folded in, eviction, statistics) when the store has limits or
   * something to fold in. With eviction `'none'` they share one IMMEDIATE
   * transaction, so a write that overfills the store is undone whole;
   * otherwise the upkeep follows the write (a read when nothing is over).
   */
  #write<T>(operation: string, written: number, bytes: () => number, now: number, fn: (repo: KVRepository) => T): T {
    const upkeep = this.#upkeep;
    return this.#run(operation, (repo) => {
      if (!upkeep.due(written, bytes)) return fn(repo);
      if (upkeep.refusesOverfill) {
        return repo.immediate(() => {
          const result = fn(repo);
          runSync(upkeep.afterWrite(repo, this.name, now, written, operation));
          return result;
        });
      }
      const result = fn(repo);
      try {
        runSync(upkeep.afterWrite(repo, this.name, now, written, operation));
      } catch (err) {
        // The write landed; after a passing failure the next one checks the limits again and folds in what is pending.
        if (written === 0 || !isTransient(toKVError(err, operation))) throw err;
      }
      return result;
    });
  }

  #use(operation: string): KVRepository {
    const repo = this.#repo;
    if (repo === undefined) throw new KVError('ERR_KV_CLOSED', `${operation}: store "${this.name}" is closed`);
    return repo;
  }

  #decodedRows(options: ListOptions | undefined, operation: string): [string, V][] {
    const rules = this.#rules;
    const range = rules.range(options, operation);
    return this.#run(operation, (repo) => repo.entries(range, rules.now()).map(([key, data]) => [key, rules.decode(data, key) as V]));
  }

  *#iterate(range: KeyRange, batchSize: number): Generator<[string, V], undefined, undefined> {
    const rules = this.#rules;
    let after: string | undefined;
    for (;;) {
      const rows = this.#run('entries', (repo) => repo.page(range, after, rules.now(), batchSize));
      for (const [key, data] of rows) yield [key, this.#run('entries', () => rules.decode(data, key) as V)];
      const last = rows[rows.length - 1];
      if (rows.length < batchSize || last === undefined) return;
      after = last[0];
    }
  }
}
