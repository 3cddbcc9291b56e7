/**
 * drizzle-kv: a fast, persistent key-value store and function-result cache
 * on SQLite, built on drizzle-orm and better-sqlite3.
 *
 * @packageDocumentation
 */
import { assertRuntime } from './core/runtime';
import { provideDefaultStore } from './scache/default-store';
import { KVStore } from './sqlite/store';

assertRuntime();
// scache's default store: a SQLite store in ./cache.db, opened at the first call that needs it.
provideDefaultStore(() => new KVStore('cache.db'));

export { KVStore } from './sqlite/store';
export type { EntriesOptions, KVStoreConnectionOptions, ListOptions } from './sqlite/store';
export type { ConnectionSource, SqliteClient } from './sqlite/sqlite-client';
export { scache } from './scache/scache';
export type { Memoized, MemoStore, ScacheOptions, ScacheStats, ScacheWrapper } from './scache/scache';
export { KVDatabase } from './sqlite/database';
export type { DropOptions, FileInfo, StoreInfo } from './sqlite/database';
export type { AdoptKvCacheOptions, AdoptedTable } from './sqlite/kv-cache-adoption';
export type { Clock, Durability, SchemaMode, TablesMode, KVDatabaseOptions, KVStoreFileOptions, KVStoreOptions } from './core/options';
export type { Ttl } from './core/ttl';
export type { StoreStats, WriteOptions } from './core/api';
export type { EvictionPolicy, Limits, RecordedLimits } from './core/limits';
export type { StatsMode } from './core/options';
export { jsonSerializer, v8Serializer } from './core/serializer';
export type { Serializer, SerializerOption } from './core/serializer';
export { KVError, KVRangeError, KVTypeError, isKVError } from './core/errors';
export type { AnyKVError, KVErrorCode, KVErrorOptions } from './core/errors';
export type { EncodedValue } from './schema/value';
export { DATABASE_FORMAT_VERSION, STORE_FORMAT_VERSION } from './sqlite/migrator';
