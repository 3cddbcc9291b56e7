/**
 * Bounds of the key range `[lo, hi)` holding exactly the keys that start with
 * a prefix, for an index range scan. (`LIKE 'p%'` would be case-insensitive
 * and treat `_` and `%` in the prefix as wildcards.)
 *
 * Every engine orders keys by code point (bytewise in UTF-8: SQLite's BINARY
 * collation, PostgreSQL's "C"). So the keys starting with `p` are those
 * `>= p` and `<` the string made by incrementing the last code point of `p`
 * (dropping trailing U+10FFFF, which cannot be incremented). No range is
 * ever computed with JavaScript's `<`, which compares UTF-16 units.
 */
export interface KeyRange {
  readonly lo: string;
  /** The exclusive upper bound; absent when the range has none. */
  readonly hi?: string;
}

/** The range of every key. */
export const ALL_KEYS: KeyRange = { lo: '' };

const MAX_CODE_POINT = 0x10ffff;

/** The key range holding exactly the keys that start with `prefix`. */
export function prefixRange(prefix: string): KeyRange {
  if (prefix === '') return ALL_KEYS;
  // Walk back over trailing U+10FFFF (two UTF-16 units each), which cannot be incremented.
  let end = prefix.length;
  while (end >= 2 && prefix.codePointAt(end - 2) === MAX_CODE_POINT) end -= 2;
  if (end === 0) return { lo: prefix };
  // The last code point before `end` starts one unit back, or two for a surrogate pair.
  const start = end >= 2 && (prefix.codePointAt(end - 2) as number) > 0xffff ? end - 2 : end - 1;
  let next = (prefix.codePointAt(start) as number) + 1;
  if (next === 0xd800) next = 0xe000; // skip the surrogate block, which no well-formed key contains
  return { lo: prefix, hi: prefix.slice(0, start) + String.fromCodePoint(next) };
}
