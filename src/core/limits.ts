/**
 * Size limits and eviction, as rules: what a valid limit is, how the
 * engines order entries for each policy, and how far over its limit a store is.
 */
import { describe } from './describe';
import { KVError, KVRangeError, KVTypeError } from './errors';

/**
 * What a write that takes a store over its limit does:
 * - `'lrs'`: evicts the least recently stored entries (`updated_at`);
 * - `'lru'`: evicts the least recently used (`accessed_at`: reads are folded in from memory, see docs/eviction.md);
 * - `'lfu'`: evicts the least frequently used (`hits`, then `accessed_at`);
 * - `'none'`: evicts nothing; the write fails with `ERR_KV_FULL` and writes nothing.
 */
export type EvictionPolicy = 'lrs' | 'lru' | 'lfu' | 'none';

/** A store's limits, recorded in its database like its serializer. */
export interface Limits {
  /** The most bytes the entries may take: the UTF-8 of their keys plus their encoded values. */
  readonly maxBytes?: number;
  /** The most entries (rows, expired ones until they are culled) the store may hold. */
  readonly maxEntries?: number;
  /**
   * What a write over a limit does.
   * @default 'lrs'
   */
  readonly eviction?: EvictionPolicy;
}

/** {@link Limits} as recorded: the policy filled in, absent limits `null`. */
export interface RecordedLimits {
  readonly maxBytes: number | null;
  readonly maxEntries: number | null;
  readonly eviction: EvictionPolicy;
}

/** The columns each policy evicts in the order of, oldest first; each policy's index is on them. */
export const EVICTION_ORDER: Readonly<Record<Exclude<EvictionPolicy, 'none'>, readonly string[]>> = {
  lrs: ['updated_at'],
  lru: ['accessed_at'],
  lfu: ['hits', 'accessed_at'],
};

/** The name of the index policy `policy` reads for the store table `table`. */
export function evictionIndexName(table: string, policy: Exclude<EvictionPolicy, 'none'>): string {
  return `${table}_${policy}_idx`;
}

/** Every policy that has an index. */
export const INDEXED_POLICIES = Object.keys(EVICTION_ORDER) as readonly Exclude<EvictionPolicy, 'none'>[];

const POLICIES: readonly string[] = ['lrs', 'lru', 'lfu', 'none'];

/** Checks a `limits` option or `setLimits()` argument: `null` is "no limit". */
export function resolveLimits(limits: unknown, where: string): RecordedLimits | null {
  if (limits === null) return null;
  if (typeof limits !== 'object' || Array.isArray(limits)) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `${where}: limits must be an object ({ maxBytes?, maxEntries?, eviction? }) or null, got ${describe(limits)}`);
  }
  for (const name of Object.keys(limits)) {
    if (!['maxBytes', 'maxEntries', 'eviction'].includes(name)) {
      throw new KVTypeError('ERR_KV_INVALID_OPTION', `${where}: unknown limit ${JSON.stringify(name)}; known: maxBytes, maxEntries, eviction`);
    }
  }
  const { maxBytes, maxEntries, eviction = 'lrs' } = limits as Record<string, unknown>;
  const count = (value: unknown, name: string): number | null => {
    if (value === undefined) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new KVRangeError('ERR_KV_INVALID_OPTION', `${where}: ${name} must be a whole number of at least 1, got ${describe(value)}`);
    }
    return value;
  };
  const recorded = { maxBytes: count(maxBytes, 'maxBytes'), maxEntries: count(maxEntries, 'maxEntries'), eviction };
  if (typeof eviction !== 'string' || !POLICIES.includes(eviction)) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `${where}: eviction must be 'lrs', 'lru', 'lfu' or 'none', got ${describe(eviction)}`);
  }
  if (recorded.maxBytes === null && recorded.maxEntries === null) {
    throw new KVTypeError('ERR_KV_INVALID_OPTION', `${where}: limits need maxBytes, maxEntries or both (pass null for no limit)`);
  }
  return recorded as RecordedLimits;
}

/** Whether two recorded limits are the same. */
export function sameLimits(a: RecordedLimits | null, b: RecordedLimits | null): boolean {
  if (a === null || b === null) return a === b;
  return a.maxBytes === b.maxBytes && a.maxEntries === b.maxEntries && a.eviction === b.eviction;
}

/** Limits as a registry row holds them: three nullable columns. */
export function limitsFromColumns(maxBytes: unknown, maxEntries: unknown, eviction: unknown): RecordedLimits | null {
  if (eviction === null || eviction === undefined) return null;
  const n = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return { maxBytes: n(maxBytes), maxEntries: n(maxEntries), eviction: eviction as EvictionPolicy };
}

/** How to write limits in a message. */
export function describeLimits(limits: RecordedLimits | null): string {
  if (limits === null) return 'no limit';
  const parts = [];
  if (limits.maxBytes !== null) parts.push(`maxBytes ${limits.maxBytes}`);
  if (limits.maxEntries !== null) parts.push(`maxEntries ${limits.maxEntries}`);
  return `${parts.join(', ')}, eviction '${limits.eviction}'`;
}

/** What a store holds, by the counters its triggers keep: rows live or expired. */
export interface Usage {
  readonly bytes: number;
  readonly entries: number;
  /** The limits recorded now (another process may have changed them). */
  readonly limits: RecordedLimits | null;
}

/** How far `usage` is over its limits (0 where it is not). */
export function overBy(usage: Usage): { bytes: number; entries: number } {
  const { limits } = usage;
  if (limits === null) return { bytes: 0, entries: 0 };
  return {
    bytes: limits.maxBytes === null ? 0 : Math.max(0, usage.bytes - limits.maxBytes),
    entries: limits.maxEntries === null ? 0 : Math.max(0, usage.entries - limits.maxEntries),
  };
}

/**
 * What to remove from a store `over` its limits: down to 99% of each limit
 * it exceeds (its low-water mark), so that the writes that follow need not
 * evict one row each; the caller bounds it by the rows a write may delete.
 */
export function toLowWater(usage: Usage, over: { bytes: number; entries: number }): { bytes: number; entries: number } {
  const { limits } = usage;
  if (limits === null) return over;
  return {
    bytes: over.bytes === 0 || limits.maxBytes === null ? over.bytes : over.bytes + Math.floor(limits.maxBytes / 100),
    entries: over.entries === 0 || limits.maxEntries === null ? over.entries : over.entries + Math.floor(limits.maxEntries / 100),
  };
}

/** The refusal of a write that would leave a store with eviction `'none'` over its limit. */
export function fullError(store: string, usage: Usage, operation: string): KVError {
  return new KVError(
    'ERR_KV_FULL',
    `${operation}: store "${store}" is full: the write would leave it at ${usage.entries} entries and ${usage.bytes} bytes (${describeLimits(usage.limits)}), so nothing was written; ` +
      'delete entries, or raise the limit with setLimits()',
  );
}
