import { KVRangeError, KVTypeError } from './errors';
import type { EncodedValue } from '../schema/value';
import { describe } from './describe';
import { parseJsonDialect } from './json-dialect';

/**
 * Turns values into what the `value` column holds, and back.
 *
 * The serializer's `name` is recorded with each store, so a store written
 * with one serializer is never read with another.
 */
export interface Serializer {
  /** Recorded in the file; `'json'` and `'v8'` are taken by the built-in serializers. */
  readonly name: string;
  /** Encodes a value. Throw to refuse a value that cannot be stored faithfully. */
  serialize(value: unknown): EncodedValue;
  /** Decodes what {@link Serializer.serialize} produced. */
  deserialize(data: EncodedValue): unknown;
}

/** A built-in serializer name, or a custom {@link Serializer}. */
export type SerializerOption = 'json' | 'v8' | Serializer;

const textDecoder = new TextDecoder();

/** Text as stored, whether SQLite handed back TEXT or a BLOB. */
function asText(data: EncodedValue): string {
  return typeof data === 'string' ? data : textDecoder.decode(data);
}

/**
 * Checks `value` for JSON in one pass and returns a plain copy of exactly
 * what it checked, which `JSON.stringify` then writes: each property is read
 * once and `toJSON` called once, and the copy holds only plain data (no
 * getter, `toJSON` or proxy left to answer differently a second time), so
 * what was checked is what is written. The text itself is made by
 * `JSON.stringify`, natively: several times faster than JavaScript that
 * builds it, above all in a process that has not warmed up.
 *
 * As JSON defines, an object's `toJSON` result is what is stored (so a `Date`
 * comes back as its ISO string) and `undefined` object properties are left
 * out; `-0` is written as `0`. Everything else JSON cannot represent is
 * refused: `NaN` and `±Infinity`, `undefined` in an array or at the top of a
 * `toJSON` result, array holes, named or symbol-keyed properties of arrays,
 * symbol-keyed and non-enumerable properties of objects, functions, symbols,
 * `BigInt`s, cycles, and objects that are neither plain objects nor arrays.
 *
 * `trail` holds the keys leading to `value`; the path is only spelled out for
 * a refusal, so a value that passes costs no string building.
 */
function plainJson(value: unknown, key: string | number, ancestors: object[], trail: (string | number)[]): unknown {
  if (typeof value === 'object' && value !== null) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      // An array element's key is its index, made a string only here (as JSON.stringify passes it).
      const replaced: unknown = (toJSON as (key: string) => unknown).call(value, String(key));
      if (replaced === undefined) throw refuse(trail, 'undefined (from toJSON)', 'JSON would drop it or turn it into null');
      return plainJsonData(replaced, ancestors, trail);
    }
  }
  return plainJsonData(value, ancestors, trail);
}

/** {@link plainJson} for a value whose `toJSON`, if any, has been applied. */
function plainJsonData(value: unknown, ancestors: object[], trail: (string | number)[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw refuse(trail, `${value}`, 'JSON has no NaN or Infinity');
      return value;
    case 'undefined':
      throw refuse(trail, 'undefined', 'JSON would turn it into null');
    case 'object':
      break;
    default:
      throw refuse(trail, describe(value), 'JSON cannot represent it');
  }
  if (value === null) return null;
  if (ancestors.includes(value)) throw refuse(trail, 'a circular reference', 'JSON cannot represent cycles');
  ancestors.push(value);
  const copy = Array.isArray(value) ? plainJsonArray(value, ancestors, trail) : plainJsonObject(value, ancestors, trail);
  ancestors.pop();
  return copy;
}

function plainJsonArray(array: unknown[], ancestors: object[], trail: (string | number)[]): unknown[] {
  const length = array.length;
  const copy = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    trail.push(i);
    if (!(i in array)) throw refuse(trail, 'an array hole', 'JSON would turn it into null');
    copy[i] = plainJson(array[i], i, ancestors, trail);
    trail.pop();
  }
  // JSON writes only the elements of an array. With no holes (refused above), its enumerable
  // keys are exactly its indexes unless it has named properties too; symbols are listed apart.
  // (Reflect.ownKeys would answer both at once, at several times the cost.)
  if (Object.keys(array).length !== length || Object.getOwnPropertySymbols(array).length > 0) {
    const extra = Reflect.ownKeys(array).find((k) => k !== 'length' && !(typeof k === 'string' && String(Number(k)) === k && Number(k) < length));
    throw refuse(trail, `an array with the extra property ${String(extra)}`, 'JSON keeps only the elements of an array');
  }
  return copy;
}

function plainJsonObject(value: object, ancestors: object[], trail: (string | number)[]): Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw refuse(trail, describe(value), 'JSON would not read it back as the same kind of object');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (Object.getOwnPropertyNames(record).length !== keys.length || Object.getOwnPropertySymbols(record).length > 0) {
    const hidden = Reflect.ownKeys(record).find((k) => typeof k === 'symbol' || !Object.prototype.propertyIsEnumerable.call(record, k));
    const what = typeof hidden === 'symbol' ? `a symbol-keyed property (${String(hidden)})` : `a non-enumerable property "${String(hidden)}"`;
    throw refuse(trail, what, 'JSON would drop it');
  }
  // Filled in the original's key order, which JSON.stringify then follows in the copy.
  const copy: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = record[k];
    if (v === undefined) continue;
    trail.push(k);
    const plain = plainJson(v, k, ancestors, trail);
    // An own "__proto__" property is a key like any other; assigning it would set the prototype instead.
    if (k === '__proto__') Object.defineProperty(copy, k, { value: plain, enumerable: true, writable: true, configurable: true });
    else copy[k] = plain;
    trail.pop();
  }
  return copy;
}

function refuse(trail: readonly (string | number)[], what: string, why: string): KVTypeError {
  const path = trail.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  return new KVTypeError(
    'ERR_KV_INVALID_VALUE',
    `cannot store ${what} at value${path}: ${why} (the 'v8' serializer keeps Dates, Maps, Sets, BigInts and more)`,
  );
}

/**
 * The default serializer: JSON text, readable by any SQLite client and by
 * kv-cache. A top-level `undefined` is stored as empty text (which is not
 * JSON, so it cannot be confused with a JSON value).
 *
 * Writes are strict JSON. Reads also accept kv-cache's Python dialect
 * (`NaN`, `±Infinity`, integers beyond 2^53 as `BigInt`), so adopted
 * kv-cache tables read back exactly.
 */
export const jsonSerializer: Serializer = {
  name: 'json',
  serialize(value) {
    if (value === undefined) return '';
    return JSON.stringify(plainJson(value, '', [], []));
  },
  deserialize(data) {
    const text = asText(data);
    return text === '' ? undefined : parseJsonDialect(text);
  },
};

/**
 * `node:v8`, loaded at first use rather than with the package: it brings
 * Node's stream modules along, about 2 ms of every CLI process's start.
 */
const v8 = () => process.getBuiltinModule('node:v8');

/**
 * Node's structured-clone format (`node:v8`): keeps `Date`, `Map`, `Set`,
 * `BigInt`, typed arrays, `RegExp`, `-0`, `NaN`, `undefined` and cycles.
 * Class instances come back as plain objects; functions, symbols and values
 * Node cannot read back (nested too deeply) are refused.
 */
export const v8Serializer: Serializer = {
  name: 'v8',
  serialize(value) {
    let data: Buffer;
    try {
      data = v8().serialize(value);
      // Node writes some values it cannot read back (nesting beyond ~2000 levels):
      // reading each one back is the only check that cannot drift from Node's own limits.
      v8().deserialize(data);
    } catch (err) {
      throw new KVTypeError('ERR_KV_INVALID_VALUE', `cannot store ${describe(value)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return data;
  },
  deserialize(data) {
    return v8().deserialize(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  },
};

/** Resolves the `serializer` option; checks a custom serializer's shape once, here. */
export function resolveSerializer(option: SerializerOption | undefined): Serializer {
  if (option === undefined || option === 'json') return jsonSerializer;
  if (option === 'v8') return v8Serializer;
  if (typeof option !== 'object' || option === null) {
    throw new KVTypeError(
      'ERR_KV_INVALID_OPTION',
      `option "serializer" must be 'json', 'v8' or a Serializer object, got ${describe(option)}`,
    );
  }
  const { name, serialize, deserialize } = option;
  if (typeof serialize !== 'function' || typeof deserialize !== 'function' || typeof name !== 'string') {
    throw new KVTypeError(
      'ERR_KV_INVALID_OPTION',
      'option "serializer" must have a string "name" and "serialize" and "deserialize" methods',
    );
  }
  if (name === '' || name.length > 64 || name === 'json' || name === 'v8') {
    throw new KVRangeError(
      'ERR_KV_INVALID_OPTION',
      `a custom serializer needs its own name of 1 to 64 characters, other than 'json' and 'v8'; got ${describe(name)}`,
    );
  }
  return option;
}
