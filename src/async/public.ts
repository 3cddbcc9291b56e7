// What every async entry (drizzle-kv/sqlite, /pg, /libsql) exports besides its
// openStore and openDatabase: switching engines is changing the import's path.
export { AsyncKVDatabase } from './database';
export { AsyncKVStore } from './store';
export { scache } from '../scache/scache';
export type { AsyncMemoStore, AsyncMemoized, AsyncScacheWrapper, Memoized, MemoStore, ScacheOptions, ScacheStats, ScacheWrapper } from '../scache/scache';
export { KVError, KVRangeError, KVTypeError, isKVError } from '../core/errors';
export type { AnyKVError, KVErrorCode, KVErrorOptions } from '../core/errors';
export { jsonSerializer, v8Serializer } from '../core/serializer';
export type { Serializer, SerializerOption } from '../core/serializer';
export type { Clock, KVStoreOptions, StatsMode, TablesMode } from '../core/options';
export type { EvictionPolicy, Limits, RecordedLimits } from '../core/limits';
export type { Ttl } from '../core/ttl';
export type {
  DropOptions,
  Entries,
  EntriesOptions,
  FormatReport,
  KVDatabaseApi,
  KVStoreApi,
  ListOptions,
  ManyEntries,
  Mode,
  Result,
  StoreInfo,
  StoreStats,
  WriteOptions,
} from '../core/api';
export type { EncodedValue } from '../schema/value';
