/**
 * What a store handle does beside its reads and writes, written once for
 * every engine: it counts statistics, remembers what it read (for LRU and
 * LFU) without writing, and after a write folds those into the database
 * and keeps the store within its limits, with bounded work per write.
 *
 * The after-write work is a plan (see `format.ts`), run by the sync store
 * inside the write's transaction and by the async stores after the write.
 */
import type { Mode, StoreStats } from './api';
import { KVTypeError } from './errors';
import { type Plan, call } from './format';
import { type RecordedLimits, type Usage, fullError, overBy, toLowWater } from './limits';
import type { Repository } from './ports';

/** The statistics a store counts. */
export interface Counts {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  evictions: number;
  expirations: number;
}

/** The names of the {@link Counts}. */
export const COUNT_NAMES = ['hits', 'misses', 'sets', 'deletes', 'evictions', 'expirations'] as const;

const zero = (): Counts => ({ hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, expirations: 0 });

/** Reads of distinct keys kept in memory until they are folded in; past this, new keys are not recorded (see docs/eviction.md). */
const ACCESS_MAX = 10_000;
/** Reads folded into one write, at most: the work a write adds is bounded. */
export const ACCESS_BATCH = 512;
/** Rows a write may delete to bring its store back within its limits, besides twice the rows it wrote. */
export const EVICT_BUDGET = 64;
/** The bytes a counter's value takes at most (a JSON number): what `incr` counts against the limits before it writes. */
export const COUNTER_BYTES = 24;
/** A store with no limit known to the handle checks its database's limits every this many writes. */
const CHECK_INTERVAL = 64;
/**
 * The share of a store's headroom (what its limits leave, at the last
 * check) a handle may write before it checks again: with up to this many
 * handles writing at once, skipped checks never take the store over.
 */
const HEADROOM_SHARE = 16;

/** Reads of keys, waiting to be folded into the store: the time of the latest, and how many. */
export interface Accesses {
  readonly keys: string[];
  readonly times: number[];
  readonly counts: number[];
}

/** The upkeep of one open handle. */
export class Upkeep {
  /** The limits as last read from the database. */
  limits: RecordedLimits | null;
  /** Whether statistics are also added to the database's counters (shared by every handle). */
  readonly persisted: boolean;
  /** Whether the store has counters and limits at all (not for a table the app's migrations manage). */
  readonly managed: boolean;
  #local = zero();
  #unflushed = zero();
  #dirty = false;
  readonly #accesses = new Map<string, { at: number; n: number }>();
  #untilCheck = 1;
  /** What this handle may still write without checking the limits (see {@link HEADROOM_SHARE}). */
  #credit = { rows: 0, bytes: 0 };

  constructor(limits: RecordedLimits | null, persisted: boolean, managed: boolean) {
    this.limits = limits;
    this.persisted = persisted;
    this.managed = managed;
  }

  /** Adds `n` to a statistic. */
  count(name: keyof Counts, n = 1): void {
    if (n === 0) return;
    this.#local[name] += n;
    if (this.persisted) {
      this.#unflushed[name] += n;
      this.#dirty = true;
    }
  }

  /** Records a read of `key` at `at`: a hit, and for LRU/LFU an access to fold in later. Writes nothing. */
  hit(key: string, at: number): void {
    this.count('hits');
    const policy = this.limits?.eviction;
    if (policy !== 'lru' && policy !== 'lfu') return;
    const seen = this.#accesses.get(key);
    if (seen !== undefined) {
      seen.at = at;
      seen.n++;
    } else if (this.#accesses.size < ACCESS_MAX) {
      this.#accesses.set(key, { at, n: 1 });
    }
  }

  /** Whether there is something to fold in (reads, statistics), so a background flush is worth a write. */
  get pending(): boolean {
    return this.#accesses.size > 0 || this.#dirty;
  }

  /**
   * Whether the write about to happen, of `rows` rows taking `bytes()`
   * bytes, needs the after-write work: something waits to be folded in; the
   * store has a limit and this handle's share of its headroom is spent (or
   * its eviction is `'none'`, checked at every write); or it is time to look
   * whether another process set or changed the limits. `bytes` is asked only
   * when the headroom is counted.
   */
  due(rows: number, bytes: () => number): boolean {
    if (!this.managed) return false;
    if (this.pending) return true;
    if (this.limits?.eviction === 'none') return true;
    if (--this.#untilCheck <= 0) return true;
    if (this.limits === null) return false;
    // Far below its limits, a store need not be checked at every write: this handle spends its share of the headroom.
    const credit = this.#credit;
    if (rows > credit.rows) return true;
    const size = credit.bytes === Infinity ? 0 : bytes();
    if (size > credit.bytes) return true;
    credit.rows -= rows;
    credit.bytes -= size;
    return false;
  }

  /** Refuses `operation` on a table the app's migrations manage, which has no counters or limits. */
  assertManaged(operation: string, store: string): void {
    if (!this.managed) {
      throw new KVTypeError(
        'ERR_KV_INVALID_ARGUMENT',
        `${operation}: store "${store}" is a table the app's migrations manage (tables: 'external'); limits need the tables drizzle-kv manages`,
      );
    }
  }

  /**
   * Whether a write must be atomic with its upkeep: eviction `'none'` refuses
   * writes that would overfill. Otherwise the upkeep runs after the write (a
   * read when nothing is over; the eviction its own statement), and its
   * failure does not fail the write that landed: the next write does it again.
   */
  get refusesOverfill(): boolean {
    return this.limits?.eviction === 'none';
  }

  /** This handle's statistics since it opened or was reset. */
  local(): Counts {
    return { ...this.#local };
  }

  /** Forgets this handle's statistics (persisted ones are reset by the store). */
  reset(): void {
    this.#local = zero();
    this.#unflushed = zero();
    this.#dirty = false;
  }

  /**
   * The work after a write of `written` rows at `at`, in the write's
   * transaction or just after it: bring the store within its limits (expired
   * rows first, then the policy's order, at most {@link EVICT_BUDGET} plus
   * twice `written` rows), then fold in reads and statistics. With eviction
   * `'none'`, a store left over its limit is `ERR_KV_FULL`, thrown before
   * anything is folded in, so the caller's transaction undoes the write.
   */
  *afterWrite(repo: Repository<Mode>, store: string, at: number, written: number, operation: string): Plan<void> {
    // Reads first, so that the eviction sees them.
    yield* this.#foldAccesses(repo);
    const usage = (yield* call(repo.usage())) as Usage;
    this.limits = usage.limits;
    this.#untilCheck = CHECK_INTERVAL;
    this.#credit = { rows: 0, bytes: 0 };
    const over = overBy(usage);
    if (over.bytes === 0 && over.entries === 0) {
      const { limits } = usage;
      if (limits !== null) {
        const share = (limit: number | null, used: number) => (limit === null ? Infinity : Math.floor((limit - used) / HEADROOM_SHARE));
        this.#credit = { rows: share(limits.maxEntries, usage.entries), bytes: share(limits.maxBytes, usage.bytes) };
      }
    } else {
      yield* this.#enforce(repo, store, usage, over, at, written, operation);
    }
    yield* this.#foldCounts(repo);
  }

  /** Brings a store `over` its limits back within them (see {@link Upkeep.afterWrite}). */
  *#enforce(
    repo: Repository<Mode>,
    store: string,
    usage: Usage,
    over: { bytes: number; entries: number },
    at: number,
    written: number,
    operation: string,
  ): Plan<void> {
    const budget = EVICT_BUDGET + 2 * written;
    const expired = (yield* call(repo.cull(at, budget))) as number;
    this.count('expirations', expired);
    let now = usage;
    let left = over;
    if (expired > 0) {
      now = (yield* call(repo.usage())) as Usage;
      left = overBy(now);
      if (left.bytes === 0 && left.entries === 0) return;
    }
    const { limits } = now;
    if (limits === null) return;
    if (limits.eviction === 'none') throw fullError(store, now, operation);
    const target = toLowWater(now, left);
    // Under LFU a new entry, never read yet, would be the first to go: rows written at `at` are spared.
    // The other policies order the new rows last already (ties within a millisecond by insertion).
    const sparedFrom = limits.eviction === 'lfu' ? at : Number.MAX_SAFE_INTEGER;
    const evicted = (yield* call(repo.evict(limits.eviction, sparedFrom, target.entries, target.bytes, budget - expired))) as number;
    this.count('evictions', evicted);
  }

  /** Folds the recorded reads (at most {@link ACCESS_BATCH}) and the unflushed statistics into the database. */
  *flush(repo: Repository<Mode>): Plan<void> {
    yield* this.#foldAccesses(repo);
    yield* this.#foldCounts(repo);
  }

  *#foldCounts(repo: Repository<Mode>): Plan<void> {
    if (this.#dirty) {
      const delta = this.#unflushed;
      yield* call(repo.addCounts(delta));
      this.#unflushed = zero();
      this.#dirty = false;
    }
  }

  *#foldAccesses(repo: Repository<Mode>): Plan<void> {
    if (this.#accesses.size > 0) {
      const batch: Accesses = { keys: [], times: [], counts: [] };
      for (const [key, { at, n }] of this.#accesses) {
        if (batch.keys.length === ACCESS_BATCH) break;
        batch.keys.push(key);
        batch.times.push(at);
        batch.counts.push(n);
      }
      yield* call(repo.recordAccess(batch));
      for (const key of batch.keys) this.#accesses.delete(key);
    }
  }

  /**
   * What {@link StoreStats} reports: this handle's counts, or with persisted
   * statistics the database's plus what this handle has not yet added; and
   * what the store holds, by its counters (a store without limits keeps none:
   * its table is counted).
   */
  *stats(repo: Repository<Mode>): Plan<StoreStats> {
    let held: { bytes: number; entries: number } | undefined;
    let limits = this.limits;
    if (this.managed) {
      const usage = (yield* call(repo.usage())) as Usage;
      limits = usage.limits;
      held = limits === null ? ((yield* call(repo.measure())) as { bytes: number; entries: number }) : usage;
    }
    const counts = this.persisted ? sum((yield* call(repo.counts())) as Counts, this.#unflushed) : this.local();
    return { ...counts, bytes: held?.bytes, entries: held?.entries, limits };
  }
}

function sum(a: Counts, b: Counts): Counts {
  const total = zero();
  for (const name of COUNT_NAMES) total[name] = a[name] + b[name];
  return total;
}
