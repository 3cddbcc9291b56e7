// The servers the global setup publishes are real and usable.
import type * as Libsql from '@libsql/client' with { 'resolution-mode': 'import' };
import { Client } from 'pg';
import { pgUrl, sqldUrl, uniqueName } from './index';

// @libsql/client's types are ESM-only under node16 resolution, so a CommonJS
// file cannot `import` it; its CommonJS build loads fine through require.
const { createClient } = require('@libsql/client') as typeof Libsql;

describe('test servers', () => {
  const pg = pgUrl();
  (pg ? it : it.skip)('PostgreSQL answers and is version 15 or later', async () => {
    const client = new Client({ connectionString: pg, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
      const major = Number.parseInt(rows[0]?.server_version ?? '', 10);
      expect(major).toBeGreaterThanOrEqual(15);
    } finally {
      await client.end();
    }
  });

  const sqld = sqldUrl();
  (sqld ? it : it.skip)('sqld answers select 1 through @libsql/client', async () => {
    const client = createClient({ url: sqld as string });
    try {
      const result = await client.execute('select 1');
      expect(result.rows[0]?.[0]).toBe(1);
    } finally {
      client.close();
    }
  });

  it('uniqueName gives distinct plain identifiers', () => {
    const names = Array.from({ length: 1000 }, () => uniqueName('kv_test'));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9_]{0,29}$/);
    expect(() => uniqueName('Bad-Prefix')).toThrow();
    expect(() => uniqueName('a_prefix_far_too_long_for_it')).toThrow();
  });
});
