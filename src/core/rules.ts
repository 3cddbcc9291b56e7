/**
 * The store's rules, written once for every engine and both modes: what a
 * valid call is, when an entry expires, how values are encoded and decoded,
 * how counters count, how batches are read, and when writes cull expired
 * rows. No I/O: the facades run these around a repository's queries.
 */
import type { EncodedValue } from '../schema/value';
import type { EntriesOptions, ListOptions, ManyEntries, WriteOptions } from './api';
import { describe } from './describe';
import { KVError, KVRangeError, KVTypeError, isKVError } from './errors';
import { type KeyRange, prefixRange } from './key-range';
import { assertKey } from './keys';
import type { ResolvedStoreOptions } from './options';
import type { StoredRow, Update } from './ports';
import { type Ttl, expiryFromTtl, isLive } from './ttl';

/** What an engine can hold, where engines differ (declared, so the difference is a typed refusal, never a surprise). */
export interface Capabilities {
  /** The engine's name, for messages. */
  readonly engine: string;
  /** Whether keys may contain U+0000 (PostgreSQL's `text` cannot hold it). */
  readonly nulInKeys: boolean;
}

/** A write culls expired rows every this many writes (and on its first write)… */
const CULL_INTERVAL = 64;
/** …deleting at most twice as many as were written since the last cull, and never more than this. */
const CULL_MAX = 10_000;
/** Rows read per query by `entries()` unless told otherwise. */
const DEFAULT_BATCH_SIZE = 256;
/** Tags one entry may carry. */
const MAX_TAGS = 64;

/** An entry's tags as the repositories write them: distinct, sorted, or `null` for none. */
export type TagList = readonly string[] | null;

/** What a write's `ttl` or {@link WriteOptions} argument comes to. */
export interface WriteSpec {
  readonly expiresAt: number | null;
  readonly tags: TagList;
}

/** The rules of one open store: its options, its engine's capabilities, and its cull budget. */
export class StoreRules {
  readonly #options: ResolvedStoreOptions;
  readonly #caps: Capabilities;
  #untilCull = 1;
  #writesSinceCull = 0;

  constructor(options: ResolvedStoreOptions, caps: Capabilities) {
    this.#options = options;
    this.#caps = caps;
  }

  /** The options the store was opened with. */
  get options(): ResolvedStoreOptions {
    return this.#options;
  }

  /** Now, in whole epoch milliseconds (a clock may return fractions; expiry times are integers). */
  now(): number {
    return Math.floor(this.#options.clock.now());
  }

  /** Checks a key: a well-formed string the engine stores exactly. Returns it. */
  key(key: unknown, operation: string): string {
    assertKey(key, operation);
    if (!this.#caps.nulInKeys && key.includes('\u0000')) {
      throw new KVRangeError('ERR_KV_INVALID_KEY', `${operation}: key contains U+0000, which ${this.#caps.engine} cannot store in a key`);
    }
    return key;
  }

  /** The absolute expiry of a write at `now` with `ttl` (omitted: the store's `defaultTtl`). */
  expiry(ttl: Ttl, now: number, operation: string): number | null {
    return expiryFromTtl(ttl === undefined ? this.#options.defaultTtl : ttl, now, operation);
  }

  /**
   * The expiry and tags of a write at `now`: its third argument is a TTL
   * (seconds, `null`, omitted) or {@link WriteOptions}.
   */
  write(ttlOrOptions: unknown, now: number, operation: string): WriteSpec {
    if (typeof ttlOrOptions !== 'object' || ttlOrOptions === null) {
      return { expiresAt: this.expiry(ttlOrOptions as Ttl, now, operation), tags: null };
    }
    const options = ttlOrOptions as Record<string, unknown>;
    for (const name of Object.keys(options)) {
      if (name !== 'ttl' && name !== 'tags' && name !== 'expiresAt') {
        throw new KVTypeError(
          'ERR_KV_INVALID_TTL',
          `${operation}: ttl must be a number of seconds or write options { ttl, expiresAt, tags }, got ${describe(ttlOrOptions)} (unknown option ${JSON.stringify(name)})`,
        );
      }
    }
    const { ttl, tags, expiresAt } = options as WriteOptions;
    const tagList = tags === undefined ? null : this.tags(tags, operation);
    if (expiresAt === undefined) return { expiresAt: this.expiry(ttl, now, operation), tags: tagList };
    if (ttl !== undefined) throw new KVTypeError('ERR_KV_INVALID_TTL', `${operation}: give ttl or expiresAt, not both`);
    if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt)) {
      throw new KVTypeError('ERR_KV_INVALID_TTL', `${operation}: expiresAt must be a whole number of epoch milliseconds, got ${describe(expiresAt)}`);
    }
    if (expiresAt <= now) {
      throw new KVRangeError('ERR_KV_INVALID_TTL', `${operation}: expiresAt ${expiresAt} is not after now (${now}): the entry would be expired already`);
    }
    return { expiresAt, tags: tagList };
  }

  /** Checks a list of tags: distinct, sorted; `null` when empty. */
  tags(tags: unknown, operation: string): TagList {
    if (typeof tags !== 'object' || tags === null || !(Symbol.iterator in tags)) {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: tags must be an iterable of strings, got ${describe(tags)}`);
    }
    if (this.#options.tables === 'external') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: tags need the tables drizzle-kv manages (its tag index), not tables: 'external'`);
    }
    const distinct = new Set<string>();
    for (const tag of tags as Iterable<unknown>) distinct.add(this.tag(tag, operation));
    if (distinct.size > MAX_TAGS) {
      throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `${operation}: an entry may carry at most ${MAX_TAGS} tags, got ${distinct.size}`);
    }
    return distinct.size === 0 ? null : [...distinct].sort();
  }

  /** Checks one tag: a non-empty string the engine stores exactly. */
  tag(tag: unknown, operation: string): string {
    if (typeof tag !== 'string' || tag === '') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: a tag must be a non-empty string, got ${describe(tag)}`);
    }
    if (!tag.isWellFormed() || (!this.#caps.nulInKeys && tag.includes('\u0000'))) {
      throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `${operation}: tag ${describe(tag)} cannot be stored exactly (a lone surrogate${this.#caps.nulInKeys ? '' : ', or U+0000'})`);
    }
    return tag;
  }

  /** Whether a row is live at `now`. */
  isLive(row: StoredRow | undefined, now: number): row is StoredRow {
    return row !== undefined && isLive(row[1], now);
  }

  /** Encodes a value with the store's serializer; what it cannot encode is `ERR_KV_INVALID_VALUE`. */
  encode(value: unknown, operation: string): EncodedValue {
    const { serializer } = this.#options;
    let data: unknown;
    try {
      data = serializer.serialize(value);
    } catch (err) {
      if (isKVError(err)) throw err;
      throw new KVTypeError('ERR_KV_INVALID_VALUE', `${operation}: cannot serialize ${describe(value)}: ${(err as Error).message}`, { cause: err });
    }
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new KVTypeError(
        'ERR_KV_INVALID_VALUE',
        `${operation}: the "${serializer.name}" serializer returned ${describe(data)}, not a string or Uint8Array`,
      );
    }
    return data;
  }

  /**
   * Decodes a stored value. A value the serializer cannot read is
   * `ERR_KV_DESERIALIZE`, which the facades first explain from the registry
   * (the likeliest cause: the store was recreated with another serializer).
   */
  decode(data: EncodedValue, key: string): unknown {
    try {
      return this.#options.serializer.deserialize(data);
    } catch (err) {
      throw new KVError(
        'ERR_KV_DESERIALIZE',
        `the stored value of ${describe(key)} cannot be read with the "${this.#options.serializer.name}" serializer: ${(err as Error).message}; ` +
          'the row is left as it is, for inspection (a set() of the key replaces it)',
        { cause: err },
      );
    }
  }

  /** The seconds a row has left at `now` (see `ttl()`). */
  secondsLeft(expiresAt: number | null | undefined, now: number): number | undefined {
    if (expiresAt === undefined || !isLive(expiresAt, now)) return undefined;
    return expiresAt === null ? Infinity : (expiresAt - now) / 1000;
  }

  /** Checks the amount of `incr`/`decr` and gives the signed delta. */
  delta(by: unknown, sign: 1 | -1, operation: string): number {
    if (typeof by !== 'number' || !Number.isFinite(by)) {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: the amount must be a finite number, got ${describe(by)}`);
    }
    return sign * by;
  }

  /**
   * What a counter's row becomes, read under the engine's lock: the number
   * plus `delta`, in JavaScript arithmetic (the same float result on every
   * engine). A new counter takes the store's `defaultTtl`, like any write
   * that passes no TTL; an existing one keeps its expiry.
   */
  increment(row: StoredRow | undefined, key: string, delta: number, operation: string): Update<number> {
    // (The repository keeps the row's tags: an update never replaces them.)
    const now = this.now();
    let current = 0;
    let expiresAt = this.expiry(undefined, now, operation);
    if (this.isLive(row, now)) {
      const stored = this.decode(row[0], key);
      if (typeof stored !== 'number') {
        throw new KVError('ERR_KV_NOT_A_NUMBER', `${operation}: the value of ${describe(key)} is ${describe(stored)}, not a number`);
      }
      current = stored;
      expiresAt = row[1];
    }
    const next = current + delta;
    if (!Number.isFinite(next)) {
      throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `${operation}: ${current} + ${delta} is not a finite number`);
    }
    if (Number.isInteger(current) && Number.isInteger(delta) && !Number.isSafeInteger(next)) {
      // A counter past 2^53 would silently stop counting exactly.
      throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `${operation}: ${current} + ${delta} is beyond Number.MAX_SAFE_INTEGER`);
    }
    return { value: this.encode(next, operation), expiresAt, at: now, result: next };
  }

  /** The keys of `getMany`, checked. */
  keyList(keys: unknown, operation: string): string[] {
    if (typeof keys !== 'object' || keys === null || !(Symbol.iterator in keys) || typeof keys === 'string') {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: expected an iterable of keys, got ${describe(keys)}`);
    }
    const list = Array.from(keys as Iterable<unknown>);
    for (const key of list) this.key(key, operation);
    return list as string[];
  }

  /**
   * The rows of `setMany`: every key checked and every value encoded before
   * the first write, so a refusal writes nothing. A key given twice keeps its
   * last value (one row per key, as every engine's batch upsert needs).
   */
  batch(entries: unknown, operation: string): { keys: string[]; values: EncodedValue[] } {
    if (typeof entries !== 'object' || entries === null) {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: expected [key, value] pairs or a record, got ${describe(entries)}`);
    }
    const keys: string[] = [];
    const values: EncodedValue[] = [];
    const at = new Map<string, number>();
    const add = (key: unknown, value: unknown) => {
      const checked = this.key(key, operation);
      const data = this.encode(value, operation);
      const seen = at.get(checked);
      if (seen === undefined) {
        at.set(checked, keys.length);
        keys.push(checked);
        values.push(data);
      } else {
        values[seen] = data; // the last value wins
      }
    };
    if (Symbol.iterator in entries) {
      for (const entry of entries as Iterable<unknown>) {
        if (!Array.isArray(entry)) {
          throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: each entry must be a [key, value] pair, got ${describe(entry)}`);
        }
        add(entry[0], entry[1]);
      }
    } else {
      for (const [key, value] of Object.entries(entries as ManyEntries<unknown>)) add(key, value);
    }
    return { keys, values };
  }

  /** The key range of a listing's options. */
  range(options: ListOptions | undefined, operation: string): KeyRange {
    if (options === undefined) return prefixRange('');
    if (typeof options !== 'object' || options === null) {
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: options must be an object, got ${describe(options)}`);
    }
    const { prefix = '' } = options;
    return prefixRange(this.key(prefix, `${operation} (prefix)`));
  }

  /** The range `clear` removes: `undefined` for everything. A prefix that is present but `undefined` is refused. */
  clearRange(options: ListOptions | undefined, operation: string): KeyRange | undefined {
    if (options !== undefined && options !== null && typeof options === 'object' && options.prefix === undefined) {
      // A prefix that is unexpectedly undefined must not turn into "delete everything".
      throw new KVTypeError('ERR_KV_INVALID_ARGUMENT', `${operation}: the prefix option is undefined; call clear() to remove every entry`);
    }
    return options === undefined ? undefined : this.range(options, operation);
  }

  /** The batch size of `entries()`. */
  batchSize(options: EntriesOptions | undefined, operation: string): number {
    const batchSize = options?.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new KVRangeError('ERR_KV_INVALID_ARGUMENT', `${operation}: batchSize must be a positive integer, got ${describe(batchSize)}`);
    }
    return batchSize;
  }

  /**
   * How many expired rows a write of `written` rows should delete: 0 on
   * most writes, and every 64th write (or every batch, with `always`) twice
   * what was written since the last cull. Expired rows are reclaimed at the
   * pace they are made, and no single write pays for a backlog.
   */
  cullBudget(written: number, always = false): number {
    if (!always && --this.#untilCull > 0) {
      this.#writesSinceCull += written;
      return 0;
    }
    const limit = Math.min(2 * (this.#writesSinceCull + written), CULL_MAX);
    this.#untilCull = CULL_INTERVAL;
    this.#writesSinceCull = 0;
    return limit;
  }
}

/** Rows `purgeExpired()` deletes per statement: short transactions, so other writers wait little. */
export const PURGE_BATCH = 1000;

/**
 * Whether an error of the upkeep after a write that landed may be left to
 * the next write: a lock or a server briefly out of reach. Any other error
 * is thrown, as the write's.
 */
export function isTransient(err: unknown): boolean {
  return isKVError(err) && (err.code === 'ERR_KV_BUSY' || err.code === 'ERR_KV_UNAVAILABLE' || err.code === 'ERR_KV_TIMEOUT');
}

/** Whether a facade should explain `err` from the registry before throwing it (a vanished table, an unreadable value). */
export function needsExplaining(err: unknown): boolean {
  return isKVError(err) && (err.code === 'ERR_KV_NO_SUCH_STORE' || err.code === 'ERR_KV_DESERIALIZE');
}
