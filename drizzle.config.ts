import { defineConfig } from 'drizzle-kit';

/**
 * The on-disk format has two levels, each with its own ordered migrations:
 * `database` (bookkeeping tables, once per file) and `store` (the table shape,
 * once per store). drizzle-kit handles one level per run; pick it with
 * `DRIZZLE_KV_LEVEL` (`npm run db:generate` runs both).
 */
const level = process.env['DRIZZLE_KV_LEVEL'] === 'database' ? 'database' : 'store';

export default defineConfig({
  dialect: 'sqlite',
  schema: `./drizzle/${level}.schema.ts`,
  out: `./drizzle/${level}`,
});
