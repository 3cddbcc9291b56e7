// drizzle-kit entry for the PostgreSQL database-level format: the bookkeeping
// tables, unqualified (the runtime applies them in the chosen schema).
export { pgKvCounters as kvCounters, pgKvMeta as kvMeta, pgKvStores as kvStores } from '../../src/pg/schema';
