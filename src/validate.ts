import { KVRangeError, KVTypeError } from './errors';

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 40 ? `a string of length ${value.length}` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
  }
  return typeof value;
}

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

/** A TTL argument: seconds, or `null`/`undefined`/`Infinity` for no expiry. */
export type Ttl = number | null | undefined;

/**
 * Converts a relative TTL (seconds) into an absolute expiry (epoch ms), once,
 * at write time. `null`, `undefined` and `Infinity` mean "never expires".
 *
 * A TTL of zero or below is refused rather than guessed at: kv-cache treats
 * `0` as "no expiry" (it is falsy in Python) while most caches treat it as
 * "already expired", and either guess would surprise half of its users.
 */
export function expiryFromTtl(ttl: Ttl, now: number, operation: string): number | null {
  if (ttl === undefined || ttl === null || ttl === Infinity) return null;
  if (typeof ttl !== 'number') {
    throw new KVTypeError(
      'ERR_KV_INVALID_TTL',
      `${operation}: ttl must be a number of seconds, got ${describe(ttl)}`,
    );
  }
  if (!(ttl > 0)) {
    throw new KVRangeError(
      'ERR_KV_INVALID_TTL',
      `${operation}: ttl must be a positive number of seconds (or Infinity for no expiry), got ${ttl}`,
    );
  }
  // Rounded up so that any positive TTL keeps the entry for at least 1 ms.
  const expiresAt = now + Math.ceil(ttl * 1000);
  if (!Number.isSafeInteger(expiresAt)) {
    throw new KVRangeError(
      'ERR_KV_INVALID_TTL',
      `${operation}: ttl ${ttl} s is too large to store; use Infinity for no expiry`,
    );
  }
  return expiresAt;
}

/** Whether an entry with this expiry is live at `now`. */
export function isLive(expiresAt: number | null, now: number): boolean {
  return expiresAt === null || expiresAt > now;
}
