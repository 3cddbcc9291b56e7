import { KVTypeError, isKVError } from '../core/errors';
import { describe } from '../core/describe';

/**
 * How many levels of objects an argument may nest. Deeper arguments are
 * refused instead of recursing until the stack overflows; the limit sits
 * well below the depth a default Node.js stack holds, so that a call made
 * from an already deep stack still gets a typed error.
 */
export const MAX_KEY_DEPTH = 1000;

/**
 * A canonical text encoding of function arguments for cache keys: equal
 * inputs give equal text in every process, and inputs that differ (in type
 * or in value) give different text. Object keys are sorted, so
 * `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` encode alike, as keyword order does
 * not matter in kv-cache. Every value carries a type tag, so `1`, `"1"`,
 * `[1]`, `new Date(1)` and `1n` all differ.
 *
 * Everything an object holds is part of its key or refused, never silently
 * dropped: an array's holes are encoded apart from `undefined` (`_<count>`
 * per run of holes, so a huge sparse array is cheap), and an array's named
 * properties follow its elements as an object would encode them. Values
 * that encoded unambiguously in earlier releases (dense arrays without named
 * properties, plain objects, Dates…) keep exactly their earlier encoding, so
 * the caches those releases wrote stay valid.
 *
 * What has no deterministic encoding is refused rather than guessed at:
 * functions, symbols, class instances without `toJSON`, cycles, symbol-keyed
 * or non-enumerable own properties (which `Object.keys` would skip, so two
 * different objects would share a key), extra own properties of a `Date`,
 * `RegExp`, `Map` or `Set`, and nesting deeper than {@link MAX_KEY_DEPTH}.
 * kv-cache falls back to `str()`, which in JavaScript is `[object Object]`
 * for every object, a silent collision.
 *
 * @throws KVTypeError `ERR_KV_UNKEYABLE_ARGUMENT` for an argument it refuses
 */
export function encodeArguments(args: readonly unknown[]): string {
  try {
    return args.map((arg, i) => encode(arg, `argument ${i}`, [])).join(',');
  } catch (err) {
    // The depth limit keeps an encoding far from the end of the stack, but a call made from a stack
    // that is already nearly full can still run out of it: that is an unkeyable argument too, not a
    // bare RangeError (which callers cannot tell from their own errors).
    if (isStackOverflow(err)) {
      throw new KVTypeError(
        'ERR_KV_UNKEYABLE_ARGUMENT',
        'cannot derive a cache key from the arguments: encoding them ran out of stack (they nest too deeply for the stack left); pass a keyFunc',
        { cause: err },
      );
    }
    throw err;
  }
}

function isStackOverflow(err: unknown): boolean {
  // By name and message, not instanceof: the engine's RangeError may belong to another realm.
  if (typeof err !== 'object' || err === null || isKVError(err)) return false;
  const { name, message } = err as { name?: unknown; message?: unknown };
  return name === 'RangeError' && typeof message === 'string' && /call stack/i.test(message);
}

function encode(value: unknown, path: string, ancestors: object[]): string {
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 't' : 'f';
    case 'number':
      return Object.is(value, -0) ? 'n-0' : `n${value}`;
    case 'bigint':
      return `b${value}`;
    case 'string':
      return `s${JSON.stringify(value)}`;
    case 'object':
      break;
    default:
      throw unkeyable(path, value);
  }
  if (value === null) return 'N';
  if (ancestors.includes(value)) throw unkeyable(path, value, 'it contains a cycle');
  if (ancestors.length >= MAX_KEY_DEPTH) {
    throw unkeyable(path, value, `it is nested more than ${MAX_KEY_DEPTH} levels deep (the limit of the default key)`);
  }
  ancestors.push(value);
  try {
    return encodeObject(value, path, ancestors);
  } finally {
    ancestors.pop();
  }
}

function encodeObject(value: object, path: string, ancestors: object[]): string {
  if (Array.isArray(value)) return encodeArray(value, path, ancestors);
  if (value instanceof Date) {
    assertNoOwnKeys(value, 0, path);
    return `D${value.getTime()}`;
  }
  if (value instanceof RegExp) {
    assertNoOwnKeys(value, 1, path); // its own `lastIndex`
    return `R${JSON.stringify(`${value.source}/${value.flags}`)}`;
  }
  if (ArrayBuffer.isView(value)) {
    // Keyed by type and bytes; listing a typed array's own keys would cost a string per byte.
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return `B${value.constructor.name}:${bytes.toString('hex')}`;
  }
  if (value instanceof Map) {
    assertNoOwnKeys(value, 0, path);
    const entries = Array.from(value, ([k, v]) => `${encode(k, `${path} (a Map key)`, ancestors)}=>${encode(v, `${path}.get(…)`, ancestors)}`);
    return `M{${entries.sort().join(',')}}`;
  }
  if (value instanceof Set) {
    assertNoOwnKeys(value, 0, path);
    return `S{${Array.from(value, (v) => encode(v, `${path} (a Set member)`, ancestors)).sort().join(',')}}`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(value);
    assertOnlyEnumerable(value, keys.length, path);
    return encodeRecord(value as Record<string, unknown>, keys, path, ancestors);
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const name = (proto as { constructor?: { name?: string } } | null)?.constructor?.name ?? '';
    return `J${JSON.stringify(name)}:${encode((toJSON as () => unknown).call(value), path, ancestors)}`;
  }
  throw unkeyable(path, value);
}

/** `{"a":…,"b":…}`, keys sorted. */
function encodeRecord(record: Record<string, unknown>, keys: string[], path: string, ancestors: object[]): string {
  keys.sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], `${path}.${k}`, ancestors)}`).join(',')}}`;
}

/**
 * `[e0,e1,…]`, as earlier releases encoded every array. A run of holes is
 * `_<count>` (no element encoding starts with `_`), and named properties
 * follow the brackets as `{…}`, so neither is mistaken for `undefined` or
 * for their absence.
 */
function encodeArray(value: readonly unknown[], path: string, ancestors: object[]): string {
  const n = value.length;
  const names = Object.getOwnPropertyNames(value);
  if (Object.getOwnPropertySymbols(value).length > 0) throw unkeyable(path, value, 'it has a symbol-keyed property');
  // Own keys list array indices first, in ascending order, then `length` and any named property. If
  // there are n + 1 keys and the one at position n - 1 is "n - 1", the indices are exactly 0…n-1 and the
  // last key is `length`: the array is dense and has nothing else (the common case), and is encoded
  // without testing its keys one by one.
  if (names.length === n + 1 && (n === 0 || names[n - 1] === String(n - 1))) {
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) parts[i] = encode(value[i], `${path}[${i}]`, ancestors);
    return `[${parts.join(',')}]`;
  }
  const parts: string[] = [];
  const named: string[] = [];
  let next = 0; // the first index not yet encoded
  for (const k of names) {
    if (k === 'length') continue;
    if (!isArrayIndex(k)) {
      named.push(k);
      continue;
    }
    const i = Number(k);
    if (i > next) parts.push(`_${i - next}`);
    parts.push(encode(value[i], `${path}[${i}]`, ancestors));
    next = i + 1;
  }
  if (n > next) parts.push(`_${n - next}`);
  const elements = `[${parts.join(',')}]`;
  if (named.length === 0) return elements;
  const hidden = named.find((k) => !Object.prototype.propertyIsEnumerable.call(value, k));
  if (hidden !== undefined) throw unkeyable(path, value, `its property ${JSON.stringify(hidden)} is not enumerable`);
  return elements + encodeRecord(value as unknown as Record<string, unknown>, named, path, ancestors);
}

/** Whether `key` is an array index: a canonical integer below 2³² − 1. */
function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4294967295;
}

/** Refuses an object whose own string keys are not all enumerable, or that has symbol keys. */
function assertOnlyEnumerable(value: object, enumerable: number, path: string): void {
  if (Object.getOwnPropertySymbols(value).length > 0) throw unkeyable(path, value, 'it has a symbol-keyed property');
  const names = Object.getOwnPropertyNames(value);
  if (names.length === enumerable) return;
  const hidden = names.find((k) => !Object.prototype.propertyIsEnumerable.call(value, k)) ?? '';
  throw unkeyable(path, value, `its property ${JSON.stringify(hidden)} is not enumerable`);
}

/** Refuses a built-in object (Date, Map…) with own properties beyond the `expected` it always has: its encoding would ignore them. */
function assertNoOwnKeys(value: object, expected: number, path: string): void {
  if (Reflect.ownKeys(value).length !== expected) throw unkeyable(path, value, 'it has own properties, which its encoding would ignore');
}

function unkeyable(path: string, value: unknown, why = 'it has no deterministic encoding'): KVTypeError {
  return new KVTypeError(
    'ERR_KV_UNKEYABLE_ARGUMENT',
    // The start of a long path is enough: a message naming a thousand `[0]`s helps no one.
    `cannot derive a cache key from ${path.length > 200 ? `${path.slice(0, 199)}…` : path} (${describe(value)}): ${why}; pass a keyFunc`,
  );
}

/**
 * The SHA-256 of `text`, in hex. `node:crypto` is loaded at the first call,
 * not with the package: loading it costs a CLI process ~4 ms at every start.
 */
export function sha256(text: string): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(text).digest('hex');
}
