import { KVRangeError, KVTypeError } from './errors';
import type { EncodedValue } from './schema/value';
import { describe } from './validate';
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
 * Writes `value` as JSON text in one pass, refusing what `JSON.stringify`
 * would silently change or drop, so that a value reads back as what was
 * written. Each property is read once and `toJSON` called once, and what was
 * checked is what is written: a getter or `toJSON` that answers differently
 * the second time cannot slip past the check.
 *
 * As JSON defines, an object's `toJSON` result is what is stored (so a `Date`
 * comes back as its ISO string) and `undefined` object properties are left
 * out; `-0` is written as `0`. Everything else JSON cannot represent is
 * refused: `NaN` and `±Infinity`, `undefined` in an array or at the top of a
 * `toJSON` result, array holes, named or symbol-keyed properties of arrays,
 * symbol-keyed and non-enumerable properties of objects, functions, symbols,
 * `BigInt`s, cycles, and objects that are neither plain objects nor arrays.
 *
 * The path to a value is only spelled out for a refusal, so a value that
 * passes costs no string building for it.
 */
function writeJson(value: unknown, key: string | number, w: JsonWriter): void {
  if (typeof value === 'object' && value !== null) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      // An array element's key is its index, made a string only here (as JSON.stringify passes it).
      const replaced: unknown = (toJSON as (key: string) => unknown).call(value, String(key));
      if (replaced === undefined) throw refuse(w.trail, 'undefined (from toJSON)', 'JSON would drop it or turn it into null');
      writeJsonData(replaced, w);
      return;
    }
  }
  writeJsonData(value, w);
}

/**
 * Where {@link writeJson} writes: the pieces of the text, joined once at the
 * end (one flat string, where concatenation would leave a rope of pieces for
 * the driver to flatten), the objects above the value (to find cycles) and
 * the keys leading to it (for messages).
 */
interface JsonWriter {
  readonly out: string[];
  readonly ancestors: object[];
  readonly trail: (string | number)[];
}

/** {@link writeJson} for a value whose `toJSON`, if any, has been applied. */
function writeJsonData(value: unknown, w: JsonWriter): void {
  switch (typeof value) {
    case 'string':
      w.out.push(quote(value));
      return;
    case 'boolean':
      w.out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw refuse(w.trail, `${value}`, 'JSON has no NaN or Infinity');
      w.out.push(`${value}`); // what JSON writes for a finite number (Number::toString; -0 as 0)
      return;
    case 'undefined':
      throw refuse(w.trail, 'undefined', 'JSON would turn it into null');
    case 'object':
      break;
    default:
      throw refuse(w.trail, describe(value), 'JSON cannot represent it');
  }
  if (value === null) {
    w.out.push('null');
    return;
  }
  if (w.ancestors.includes(value)) throw refuse(w.trail, 'a circular reference', 'JSON cannot represent cycles');
  w.ancestors.push(value);
  if (Array.isArray(value)) writeJsonArray(value, w);
  else writeJsonObject(value, w);
  w.ancestors.pop();
}

function writeJsonArray(array: unknown[], w: JsonWriter): void {
  const length = array.length;
  w.out.push('[');
  for (let i = 0; i < length; i++) {
    w.trail.push(i);
    if (!(i in array)) throw refuse(w.trail, 'an array hole', 'JSON would turn it into null');
    if (i > 0) w.out.push(',');
    writeJson(array[i], i, w);
    w.trail.pop();
  }
  // JSON writes only the elements of an array. With no holes (refused above), its enumerable
  // keys are exactly its indexes unless it has named properties too; symbols are listed apart.
  // (Reflect.ownKeys would answer both at once, at several times the cost.)
  if (Object.keys(array).length !== length || Object.getOwnPropertySymbols(array).length > 0) {
    const extra = Reflect.ownKeys(array).find((k) => k !== 'length' && !(typeof k === 'string' && String(Number(k)) === k && Number(k) < length));
    throw refuse(w.trail, `an array with the extra property ${String(extra)}`, 'JSON keeps only the elements of an array');
  }
  w.out.push(']');
}

function writeJsonObject(value: object, w: JsonWriter): void {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw refuse(w.trail, describe(value), 'JSON would not read it back as the same kind of object');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (Object.getOwnPropertyNames(record).length !== keys.length || Object.getOwnPropertySymbols(record).length > 0) {
    const hidden = Reflect.ownKeys(record).find((k) => typeof k === 'symbol' || !Object.prototype.propertyIsEnumerable.call(record, k));
    const what = typeof hidden === 'symbol' ? `a symbol-keyed property (${String(hidden)})` : `a non-enumerable property "${String(hidden)}"`;
    throw refuse(w.trail, what, 'JSON would drop it');
  }
  w.out.push('{');
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = record[k];
    if (v === undefined) continue;
    w.trail.push(k);
    w.out.push(first ? `${quote(k)}:` : `,${quote(k)}:`);
    writeJson(v, k, w);
    w.trail.pop();
    first = false;
  }
  w.out.push('}');
}

/** Characters a JSON string must escape (and lone surrogates, which JSON.stringify writes as escapes). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON text: most keys and values need no escape, and skipping JSON.stringify for them is several times cheaper. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
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
    const w: JsonWriter = { out: [], ancestors: [], trail: [] };
    writeJson(value, '', w);
    return w.out.join('');
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
