/**
 * Keyv keys are any JavaScript strings; a drizzle-kv key must be well-formed
 * UTF-16 (a lone surrogate would be replaced by U+FFFD on its way to UTF-8,
 * merging keys), and on PostgreSQL cannot hold U+0000. The adapter stores
 * such keys escaped, reversibly, and every other key as it is:
 *
 * - a lone surrogate or U+0000 becomes U+FFFF followed by its code unit in
 *   4 lowercase hex digits (U+D800 -> `\uFFFFd800`);
 * - U+FFFF itself (a noncharacter, the escape) becomes U+FFFF U+FFFF;
 * - everything else, surrogate pairs included, is kept.
 *
 * The escape works code unit by code unit and never across a `:`, so the
 * namespace prefix `ns:` of a key is escaped on its own:
 * `escapeKey(ns + ':' + key) === escapeKey(ns + ':') + escapeKey(key)`, and a
 * namespace's clear and iteration stay key-range scans of `escapeKey(ns + ':')`.
 */

/** What needs escaping: U+0000, U+FFFF, and (in `u` mode, where pairs are one code point) lone surrogates. */
const NEEDS_ESCAPE = /[\0\uFFFF\p{Cs}]/u;
const TO_ESCAPE = /[\0\uFFFF\p{Cs}]/gu;
const ESCAPED = /\uFFFF(\uFFFF|[0-9a-f]{4})/g;

const escapeUnit = (unit: string): string => (unit === '\uFFFF' ? '\uFFFF\uFFFF' : `\uFFFF${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
const unescapeUnit = (_: string, code: string): string => (code === '\uFFFF' ? '\uFFFF' : String.fromCharCode(Number.parseInt(code, 16)));

/** The drizzle-kv key a Keyv key is stored under. */
export function escapeKey(key: string): string {
  // Anything but a string goes to the store as it is, which refuses it (ERR_KV_INVALID_KEY).
  return typeof key === 'string' && NEEDS_ESCAPE.test(key) ? key.replace(TO_ESCAPE, escapeUnit) : key;
}

/** The Keyv key a stored key stands for (the inverse of {@link escapeKey}). */
export function unescapeKey(stored: string): string {
  return stored.includes('\uFFFF') ? stored.replace(ESCAPED, unescapeUnit) : stored;
}
