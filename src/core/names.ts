import { KVRangeError, KVTypeError } from './errors';
import { describe } from './describe';

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Longest store name accepted on SQLite; the derived index name adds a suffix to it. */
export const MAX_NAME_LENGTH = 128;

/** What an engine allows in a store name, beyond the identifier pattern every engine shares. */
export interface NameRules {
  /** The longest name whose derived names (indexes, constraints) still fit the engine's identifiers. */
  readonly maxLength: number;
  /** Lower-case prefixes the engine keeps for its own objects, besides this library's `drizzle_kv_`. */
  readonly reservedPrefixes: readonly string[];
}

/** SQLite's (and libSQL's): 128 characters; `sqlite_` is SQLite's own. */
export const SQLITE_NAMES: NameRules = { maxLength: MAX_NAME_LENGTH, reservedPrefixes: ['sqlite_'] };

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
export function assertStoreName(name: unknown, rules: NameRules = SQLITE_NAMES): asserts name is string {
  if (typeof name !== 'string') {
    throw new KVTypeError('ERR_KV_INVALID_NAME', `store name must be a string, got ${describe(name)}`);
  }
  if (name.length > rules.maxLength) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `store name is ${name.length} characters long; the limit is ${rules.maxLength}`,
    );
  }
  if (!NAME_PATTERN.test(name)) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `invalid store name ${describe(name)}: use letters, digits and underscores, not starting with a digit`,
    );
  }
  const lower = name.toLowerCase();
  const reserved = [...rules.reservedPrefixes, 'drizzle_kv_'].find((prefix) => lower.startsWith(prefix));
  if (reserved !== undefined) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `invalid store name ${describe(name)}: names starting with "${reserved}" are reserved`,
    );
  }
  if (FOREIGN_BOOKKEEPING.has(lower)) {
    throw new KVRangeError(
      'ERR_KV_INVALID_NAME',
      `invalid store name ${describe(name)}: it is the name of another tool's migration bookkeeping table`,
    );
  }
}
