import { KVRangeError, KVTypeError } from './errors';
import { describe } from './describe';

/**
 * Checks that `key` is a string SQLite stores exactly. Lone UTF-16 surrogates
 * would be replaced by U+FFFD on the way to UTF-8, silently merging keys.
 */
export function assertKey(key: unknown, operation: string): asserts key is string {
  if (typeof key !== 'string') {
    throw new KVTypeError('ERR_KV_INVALID_KEY', `${operation}: key must be a string, got ${describe(key)}`);
  }
  if (!key.isWellFormed()) {
    throw new KVRangeError(
      'ERR_KV_INVALID_KEY',
      `${operation}: key contains a lone UTF-16 surrogate and cannot be stored exactly`,
    );
  }
}
