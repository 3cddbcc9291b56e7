import { defineConfig } from 'drizzle-kit';

/**
 * The on-disk format has two levels, each with its own ordered migrations:
 * `database` (bookkeeping tables, once per file or PostgreSQL schema) and
 * `store` (the table shape, once per store). Each engine has its own chain of
 * the same steps. drizzle-kit handles one dialect and level per run; pick them
 * with `DRIZZLE_KV_DIALECT` (`sqlite`, the default, or `pg`) and
 * `DRIZZLE_KV_LEVEL` (`store`, the default, or `database`).
 * `npm run db:generate` runs every pair.
 *
 *   sqlite: drizzle/<level>.schema.ts    -> drizzle/<level>/
 *   pg:     drizzle/pg/<level>.schema.ts -> drizzle/pg/<level>/
 */
const level = process.env['DRIZZLE_KV_LEVEL'] === 'database' ? 'database' : 'store';
const dialect = process.env['DRIZZLE_KV_DIALECT'] ?? 'sqlite';
if (dialect !== 'sqlite' && dialect !== 'pg') {
  throw new Error(`DRIZZLE_KV_DIALECT must be "sqlite" or "pg", got ${JSON.stringify(dialect)}`);
}

export default dialect === 'pg'
  ? defineConfig({
      dialect: 'postgresql',
      schema: `./drizzle/pg/${level}.schema.ts`,
      out: `./drizzle/pg/${level}`,
    })
  : defineConfig({
      dialect: 'sqlite',
      schema: `./drizzle/${level}.schema.ts`,
      out: `./drizzle/${level}`,
    });
