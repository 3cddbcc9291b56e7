/**
 * `drizzle-kv/schema`: the tables of drizzle-kv as Drizzle declarations, for
 * an app's own Drizzle schema (typed queries and joins over a store's table,
 * drizzle-kit migrations with `ddl: 'external'`). Built on the app's own
 * drizzle-orm, a peer dependency that only this entry needs.
 *
 * @packageDocumentation
 */
export { kvTable, expiryIndexName } from './store';
export type { EncodedValue, KVRow, KVTable } from './store';
export { kvMeta, kvStores } from './database';
