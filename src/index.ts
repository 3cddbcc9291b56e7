/**
 * drizzle-kv: a fast, persistent key-value store and function-result cache
 * on SQLite, built on drizzle-orm and better-sqlite3.
 *
 * @packageDocumentation
 */
import { assertRuntime } from './runtime';

assertRuntime();

export { KVStore } from './store';
export type { EntriesOptions, KVStoreConnectionOptions, ListOptions } from './store';
export type { ConnectionSource, SqliteClient } from './sqlite-client';
export { scache } from './scache';
export type { Memoized, MemoStore, ScacheOptions, ScacheWrapper } from './scache';
export { KVDatabase } from './database';
export type { DropOptions, FileInfo, StoreInfo } from './database';
export type { AdoptKvCacheOptions, AdoptedTable } from './kv-cache-adoption';
export type { Clock, Durability, SchemaMode, KVDatabaseOptions, KVStoreFileOptions, KVStoreOptions } from './options';
export type { Ttl } from './validate';
export { jsonSerializer, v8Serializer } from './serializer';
export type { Serializer, SerializerOption } from './serializer';
export { KVError, KVRangeError, KVTypeError, isKVError } from './errors';
export type { AnyKVError, KVErrorCode, KVErrorOptions } from './errors';
export type { EncodedValue } from './schema/value';
export { DATABASE_FORMAT_VERSION, STORE_FORMAT_VERSION } from './migrator';
