// Database servers for tests. The global setup (./global-setup.ts) finds or
// starts them before any test file runs and publishes their URLs in these
// environment variables, which jest's workers inherit. An unset URL means the
// engine is unavailable and its tests must be skipped visibly:
//   (pgUrl() ? it : it.skip)('...', async () => { ... });

import type * as Pg from 'pg';

/** Set by the global setup to a reachable PostgreSQL URL. */
export const PG_URL_ENV = 'DRIZZLE_KV_PG_URL';
/** Set by the global setup to a reachable sqld (libSQL server) URL. */
export const SQLD_URL_ENV = 'DRIZZLE_KV_SQLD_URL';

export function pgUrl(): string | undefined {
  return process.env[PG_URL_ENV] || undefined;
}

export function sqldUrl(): string | undefined {
  return process.env[SQLD_URL_ENV] || undefined;
}

let counter = 0;

/**
 * A fresh identifier for a PostgreSQL schema, a table or a store name, unique
 * across the test processes sharing one server: `<prefix>_` + process id
 * (5 base-36 digits, fixed width so it cannot run into the counter) + a
 * per-process counter + 5 random base-36 digits (processes in other containers
 * may have the same id). At most 30 characters of [a-z0-9_], starting with a
 * letter, so it needs no quoting; keep the prefix within 15 characters.
 */
export function uniqueName(prefix: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) {
    throw new Error(`uniqueName: prefix ${JSON.stringify(prefix)} must match [a-z][a-z0-9_]*`);
  }
  const pid = process.pid.toString(36).padStart(5, '0').slice(-5);
  const random = Math.floor(Math.random() * 36 ** 5).toString(36).padStart(5, '0');
  const name = `${prefix}_${pid}${(counter++).toString(36)}${random}`;
  if (name.length > 30) throw new Error(`uniqueName: ${name} is longer than 30 characters; use a shorter prefix`);
  return name;
}

/**
 * Fresh PostgreSQL schema names for one test file, and the `afterAll` that
 * drops every one it handed out (with what they hold).
 */
export function pgSchemas(prefix: string): { fresh(): string; dropAll(): Promise<void> } {
  const names: string[] = [];
  return {
    fresh() {
      const name = uniqueName(prefix);
      names.push(name);
      return name;
    },
    async dropAll() {
      const url = pgUrl();
      if (url === undefined || names.length === 0) return;
      // Loaded here: the helpers above serve test files that never touch PostgreSQL.
      const { Client } = require('pg') as typeof Pg;
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        for (const name of names.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
