import { KVTypeError } from './errors';
import { describe } from './validate';

/**
 * A canonical text encoding of function arguments for cache keys: equal
 * inputs give equal text in every process, and inputs that differ (in type
 * or in value) give different text. Object keys are sorted, so
 * `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` encode alike, as keyword order does
 * not matter in kv-cache. Every value carries a type tag, so `1`, `"1"`,
 * `[1]`, `new Date(1)` and `1n` all differ.
 *
 * What has no deterministic encoding (functions, symbols, class instances
 * without `toJSON`, cycles) is refused rather than guessed at: kv-cache
 * falls back to `str()`, which in JavaScript is `[object Object]` for every
 * object, a silent collision.
 */
export function encodeArguments(args: readonly unknown[]): string {
  return args.map((arg, i) => encode(arg, `argument ${i}`, [])).join(',');
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
  ancestors.push(value);
  try {
    return encodeObject(value, path, ancestors);
  } finally {
    ancestors.pop();
  }
}

function encodeObject(value: object, path: string, ancestors: object[]): string {
  if (Array.isArray(value)) {
    return `[${Array.from(value, (v, i) => encode(v, `${path}[${i}]`, ancestors)).join(',')}]`;
  }
  if (value instanceof Date) return `D${value.getTime()}`;
  if (value instanceof RegExp) return `R${JSON.stringify(`${value.source}/${value.flags}`)}`;
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return `B${value.constructor.name}:${bytes.toString('hex')}`;
  }
  if (value instanceof Map) {
    const entries = Array.from(value, ([k, v]) => `${encode(k, `${path} (a Map key)`, ancestors)}=>${encode(v, `${path}.get(…)`, ancestors)}`);
    return `M{${entries.sort().join(',')}}`;
  }
  if (value instanceof Set) {
    return `S{${Array.from(value, (v) => encode(v, `${path} (a Set member)`, ancestors)).sort().join(',')}}`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(value).sort();
    const record = value as Record<string, unknown>;
    return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], `${path}.${k}`, ancestors)}`).join(',')}}`;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const name = (proto as { constructor?: { name?: string } } | null)?.constructor?.name ?? '';
    return `J${JSON.stringify(name)}:${encode((toJSON as () => unknown).call(value), path, ancestors)}`;
  }
  throw unkeyable(path, value);
}

function unkeyable(path: string, value: unknown, why = 'it has no deterministic encoding'): KVTypeError {
  return new KVTypeError(
    'ERR_KV_UNKEYABLE_ARGUMENT',
    `cannot derive a cache key from ${path} (${describe(value)}): ${why}; pass a keyFunc`,
  );
}

/**
 * The SHA-256 of `text`, in hex. `node:crypto` is loaded at the first call,
 * not with the package: loading it costs a CLI process ~4 ms at every start.
 */
export function sha256(text: string): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(text).digest('hex');
}
