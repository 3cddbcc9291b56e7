import { KVRangeError, KVTypeError } from './errors';
import { describe } from './describe';

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
