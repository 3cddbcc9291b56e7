import { KVError } from '../core/errors';
import type { MemoStore } from './scache';

/**
 * The store scache uses when given none. The root entry provides one (a
 * SQLite store in `cache.db`, opened on first use); the async entries
 * provide none, so there a memoized function needs its `store` option.
 */
let factory: (() => MemoStore) | undefined;
let opened: MemoStore | undefined;

/** Sets what {@link defaultStore} opens on first use. @internal */
export function provideDefaultStore(open: () => MemoStore): void {
  factory = open;
}

/** The default store, opened on first use. */
export function defaultStore(): MemoStore {
  if (opened !== undefined) return opened;
  if (factory === undefined) {
    throw new KVError('ERR_KV_INVALID_ARGUMENT', 'scache: no store was given, and this entry has no default store; pass the store option');
  }
  opened = factory();
  return opened;
}
