import { KVRangeError, KVTypeError } from './errors';
import type { EncodedValue } from './schema/store';
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
 * Refuses what `JSON.stringify` would silently change: a value must read back
 * as what was written. Objects with a `toJSON` method are stored as what it
 * returns (so a `Date` comes back as its ISO string), as JSON defines.
 * `undefined` object properties are dropped, as JSON does.
 *
 * `ancestors` holds the objects above `value` (to find cycles) and `trail`
 * the keys leading to it; the path is only spelled out for a refusal, so a
 * value that passes costs no string building.
 */
function assertJsonFaithful(value: unknown, ancestors: object[], trail: (string | number)[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw refuse(trail, `${value}`, 'JSON has no NaN or Infinity');
      return;
    case 'undefined':
      throw refuse(trail, 'undefined', 'JSON would turn it into null');
    case 'object':
      break;
    default:
      throw refuse(trail, describe(value), 'JSON cannot represent it');
  }
  if (value === null) return;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const key = trail.length === 0 ? '' : String(trail[trail.length - 1]);
    assertJsonFaithful((toJSON as (key: string) => unknown).call(value, key), ancestors, trail);
    return;
  }
  if (ancestors.includes(value)) throw refuse(trail, 'a circular reference', 'JSON cannot represent cycles');
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      trail.push(i);
      if (!(i in value)) throw refuse(trail, 'an array hole', 'JSON would turn it into null');
      assertJsonFaithful(value[i], ancestors, trail);
      trail.pop();
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw refuse(trail, describe(value), 'JSON would not read it back as the same kind of object');
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const v = record[k];
      if (v === undefined) continue;
      trail.push(k);
      assertJsonFaithful(v, ancestors, trail);
      trail.pop();
    }
  }
  ancestors.pop();
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
    assertJsonFaithful(value, [], []);
    return JSON.stringify(value);
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
