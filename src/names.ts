import { KVRangeError, KVTypeError } from './errors';
import { describe } from './validate';

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Longest store name accepted; the derived index name adds a suffix to it. */
export const MAX_NAME_LENGTH = 128;

/** The store name used when none is given, as in kv-cache. */
export const DEFAULT_STORE_NAME = 'key_value_store';

/**
 * Tables other tools keep their bookkeeping in (lower case): a store of one
 * of these names would break their migrator or be mistaken for theirs.
 */
const FOREIGN_BOOKKEEPING = new Set([
  '__drizzle_migrations',
  '_prisma_migrations',
  'knex_migrations',
  'knex_migrations_lock',
  'kysely_migration',
  'kysely_migration_lock',
  'mikro_orm_migrations',
  'sequelizemeta',
  'schema_migrations',
  'flyway_schema_history',
  'goose_db_version',
  '__efmigrationshistory',
]);

/**
 * Checks a store name before anything touches the file. Names become table
 * names inside SQL, so only plain identifiers pass: this is what makes
 * `"x; DROP TABLE y"` harmless, not quoting.
 */
export function assertStoreName(name: unknown): asserts name is string {
  if (typeof name !== 'string') {
    throw new KVTypeError('ERR_KV_INVALID_NAME', `store name must be a string, got ${describe(name)}`);
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `store name is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`,
    );
  }
  if (!NAME_PATTERN.test(name)) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `invalid store name ${describe(name)}: use letters, digits and underscores, not starting with a digit`,
    );
  }
  const lower = name.toLowerCase();
  if (lower.startsWith('sqlite_') || lower.startsWith('drizzle_kv_')) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `invalid store name ${describe(name)}: names starting with "sqlite_" or "drizzle_kv_" are reserved`,
    );
  }
  if (FOREIGN_BOOKKEEPING.has(lower)) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `invalid store name ${describe(name)}: it is the name of another tool's migration bookkeeping table`,
    );
  }
}
