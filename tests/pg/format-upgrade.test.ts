/**
 * PostgreSQL schemas written in every earlier format (tests/fixtures/pg-format-v<N>.sql,
 * pg_dump output made by scripts/make-pg-format-fixture.mjs) upgrade to the
 * current one losing nothing: same keys, byte-identical values, same expiries.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { openDatabase, openStore } from '../../src/pg';
import { FakeClock } from '../helpers';
import { pgSchemas, pgUrl } from '../servers';

const url = pgUrl();
const pgIt = url === undefined ? it.skip : it;
const schemas = pgSchemas('kvupg');
const { stores } = require('../fixtures/format-rows.cjs') as { stores: { name: string; serializer: 'json' | 'v8' }[] };

const fixtures = readdirSync(join(__dirname, '..', 'fixtures')).filter((f) => /^pg-format-v\d+\.sql$/.test(f));

/** Restores a fixture into a fresh schema: pg_dump's SQL, its schema renamed, psql's meta-commands left out. */
async function restore(client: Client, fixture: string): Promise<string> {
  const schema = schemas.fresh();
  const dump = readFileSync(join(__dirname, '..', 'fixtures', fixture), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n')
    .replaceAll('kv_fixture', schema);
  await client.query(dump);
  return schema;
}

describe('PostgreSQL format upgrades', () => {
  let client: Client;
  beforeAll(async () => {
    if (url === undefined) return;
    client = new Client({ connectionString: url });
    await client.connect();
  });
  afterAll(async () => {
    if (url === undefined) return;
    await schemas.dropAll();
    await client.end();
  });

  it('has a fixture of format 2', () => {
    expect(fixtures).toContain('pg-format-v2.sql');
  });

  describe.each(fixtures)('%s', (fixture) => {
    pgIt('reports what is pending, migrates every store at once, and keeps every row byte for byte', async () => {
      const schema = await restore(client, fixture);
      const rowsOf = async (store: string) =>
        (await client.query(`SELECT key, value, expires_at, updated_at, size FROM "${schema}"."${store}" ORDER BY key`)).rows;
      const before = Object.fromEntries(await Promise.all(stores.map(async (s) => [s.name, await rowsOf(s.name)] as const)));
      const db = await openDatabase(url as string, { pgSchema: schema });
      try {
        const report = await db.inspect();
        expect(report.pending).toBe(true);
        expect((await db.migrate()).sort()).toEqual(['binary', 'key_value_store']);
        expect((await db.inspect()).pending).toBe(false);
      } finally {
        await db.close();
      }
      for (const store of stores) {
        expect(await rowsOf(store.name)).toEqual(before[store.name]);
        const upgraded = await client.query(`SELECT count(*)::int AS n FROM "${schema}"."${store.name}" WHERE accessed_at <> updated_at OR hits <> 0 OR tags IS NOT NULL`);
        expect(upgraded.rows[0].n).toBe(0);
        // Counters are kept from the first limits on, counted from the table as it is.
        const limited = await openStore(url as string, { pgSchema: schema, table: store.name, serializer: store.serializer });
        await limited.setLimits({ maxEntries: 1000 });
        await limited.close();
        const counters = await client.query(
          `SELECT sum(bytes)::int AS bytes, sum(entries)::int AS entries FROM "${schema}".drizzle_kv_counters WHERE store = $1`,
          [store.name],
        );
        const sizes = before[store.name] as { size: string }[];
        expect(counters.rows[0]).toEqual({ bytes: sizes.reduce((n, r) => n + Number(r.size), 0), entries: sizes.length });
      }
    });

    pgIt('opens the upgraded store with every value readable, and tags and limits working', async () => {
      const schema = await restore(client, fixture);
      const clock = new FakeClock(Date.UTC(2030, 0, 1));
      const store = await openStore(url as string, { pgSchema: schema, clock }); // migrates on open
      try {
        expect(await store.get('no_ttl')).toEqual({ name: 'Alice', tags: ['a', 'b'], nested: { x: 1.5, ok: true, none: null } });
        expect(await store.get('expired')).toBeUndefined();
        expect(await store.get('counter')).toBe(41);
        expect(await store.incr('counter')).toBe(42);
        await store.set('tagged', 1, { tags: ['t'] });
        expect(await store.invalidateTag('t')).toBe(1);
        const stats = await store.stats();
        expect(stats.entries).toBe(8); // the 9 rows less the expired one, culled by the first write
        expect(stats.expirations).toBe(1);
        await store.setLimits({ maxEntries: 5 });
        await store.set('new', 1);
        expect((await store.stats()).entries).toBeLessThanOrEqual(5);
        expect(await store.get('new')).toBe(1);
      } finally {
        await store.close();
      }
    });
  });
});
