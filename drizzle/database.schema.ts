// drizzle-kit entry for the database-level format: the bookkeeping tables.
export { kvMeta, kvStores } from '../src/schema/database';
