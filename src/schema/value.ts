/**
 * The encoded form of a value as it sits in the `value` column: text for
 * the JSON serializer, bytes for binary serializers such as `'v8'`.
 */
export type EncodedValue = string | Uint8Array;
