/**
 * Bounds of the key range `[lo, hi)` holding exactly the keys that start with
 * a prefix, for an index range scan. (`LIKE 'p%'` would be case-insensitive
 * and treat `_` and `%` in the prefix as wildcards.)
 *
 * SQLite compares text byte-wise in UTF-8, which orders strings by code
 * point. So the keys starting with `p` are those `>= p` and `<` the string
 * made by incrementing the last code point of `p` (dropping trailing
 * U+10FFFF, which cannot be incremented).
 *
 * `hi` is an empty `Buffer` (a BLOB) when there is no upper bound: SQLite orders
 * every TEXT value before every BLOB value, so `key < x''` holds for all keys.
 */
export interface KeyRange {
  readonly lo: string;
  readonly hi: string | Buffer;
}

/** The range of every key. */
export const ALL_KEYS: KeyRange = { lo: '', hi: Buffer.alloc(0) };

const MAX_CODE_POINT = 0x10ffff;

/** The key range holding exactly the keys that start with `prefix`. */
export function prefixRange(prefix: string): KeyRange {
  if (prefix === '') return ALL_KEYS;
  // Walk back over trailing U+10FFFF (two UTF-16 units each), which cannot be incremented.
  let end = prefix.length;
  while (end >= 2 && prefix.codePointAt(end - 2) === MAX_CODE_POINT) end -= 2;
  if (end === 0) return { lo: prefix, hi: ALL_KEYS.hi };
  // The last code point before `end` starts one unit back, or two for a surrogate pair.
  const start = end >= 2 && (prefix.codePointAt(end - 2) as number) > 0xffff ? end - 2 : end - 1;
  let next = (prefix.codePointAt(start) as number) + 1;
  if (next === 0xd800) next = 0xe000; // skip the surrogate block, which no well-formed key contains
  return { lo: prefix, hi: prefix.slice(0, start) + String.fromCodePoint(next) };
}

/**
 * The smallest key greater than `key`: `key + "\0"`. Resuming a scan at
 * `>= successor(last)` is resuming strictly after `last`.
 */
export function successor(key: string): string {
  return `${key}\u0000`;
}
