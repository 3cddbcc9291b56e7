/**
 * Parses JSON text, also accepting what Python's `json.dumps` writes by
 * default and kv-cache files therefore hold: the bare tokens `NaN`,
 * `Infinity` and `-Infinity`, and integers of any size.
 *
 * An integer literal that a `number` would round (its digits do not survive
 * the trip through a double, as with Python's `2**64`) comes back as an exact
 * `BigInt`; every other number, including every number JavaScript wrote, is
 * a `number`.
 * Standard JSON (nearly everything) costs one regular-expression test on top
 * of `JSON.parse`.
 */
export function parseJsonDialect(text: string): unknown {
  if (!LONG_DIGITS.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      if (!NON_FINITE.test(text)) throw err;
    }
  }
  return JSON.parse(text.replace(TOKENS, protect), revive);
}

/** 16 digits in a row: the shortest integer literal that may exceed 2^53. */
const LONG_DIGITS = /\d{16}/;
const NON_FINITE = /NaN|Infinity/;
/** JSON strings (kept as they are), the non-finite tokens, and numbers. */
const TOKENS = /"(?:[^"\\]|\\.)*"|-?Infinity|NaN|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
/**
 * Stands in for a special number as a JSON string until the reviver puts the
 * number back. Random per process, so no stored string can pose as one.
 */
const MARK = `\u0000${Math.random().toString(36).slice(2)}${Date.now().toString(36)}:`;

function protect(token: string): string {
  if (token.startsWith('"')) return token;
  if (token === 'NaN' || token === 'Infinity' || token === '-Infinity') return JSON.stringify(MARK + token);
  // JSON.stringify prints every double so that it reads back the same: only foreign literals can fail this.
  if (/^-?\d+$/.test(token) && !Number.isSafeInteger(Number(token)) && String(Number(token)) !== token) {
    return JSON.stringify(`${MARK}n${token}`);
  }
  return token;
}

function revive(_key: string, value: unknown): unknown {
  if (typeof value !== 'string' || !value.startsWith(MARK)) return value;
  const token = value.slice(MARK.length);
  if (token.startsWith('n')) return BigInt(token.slice(1));
  return Number(token);
}
