// drizzle-kit entry for the database-level format: the bookkeeping tables.
export { kvCounters, kvMeta, kvStores, kvTags } from '../src/schema/database';
