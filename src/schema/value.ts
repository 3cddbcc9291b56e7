/**
 * The encoded form of a value as it sits in the `value` column: text for
 * the JSON serializer, bytes for binary serializers such as `'v8'`.
 */
export type EncodedValue = string | Uint8Array;

/** What the `size` column holds for an entry: the UTF-8 bytes of its key and of its encoded value. */
export function entrySize(key: string, value: EncodedValue): number {
  return Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength);
}
