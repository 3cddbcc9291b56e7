// PostgreSQL-specific behaviour: sources, schemas, locks, concurrency. The shared semantics are in tests/contract/.
import { Client, Pool } from 'pg';
import { openDatabase, openStore } from '../../src/pg';
import { pgUrl, uniqueName } from '../servers';

const url = pgUrl();
const pgIt = url === undefined ? it.skip : it;
const schemas: string[] = [];
const fresh = () => {
  const name = uniqueName('kvpg');
  schemas.push(name);
  return name;
};

afterAll(async () => {
  if (url === undefined || schemas.length === 0) return;
  const client = new Client({ connectionString: url });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

describe('PostgreSQL engine', () => {
  pgIt('opens a store from a connection string and keeps values byte for byte', async () => {
    await using store = await openStore(url as string, { pgSchema: fresh(), table: 'smoke' });
    await store.set('a', { b: 1, a: 2, long_key: 3, c: 4 });
    expect(JSON.stringify(await store.get('a'))).toBe('{"b":1,"a":2,"long_key":3,"c":4}');
    expect(await store.incr('n')).toBe(1);
    expect(await store.incr('n', 0.5)).toBe(1.5);
    await store.setMany([['x', 1], ['y', 2], ['x', 3]]);
    expect(await store.getMany(['x', 'y', 'z'])).toEqual(new Map([['x', 3], ['y', 2]]));
    expect(await store.keys()).toEqual(['a', 'n', 'x', 'y']);
    expect(await store.pop('x')).toBe(3);
    expect(await store.pop('x', 'gone')).toBe('gone');
    expect(await store.size).toBe(3);
    const seen: string[] = [];
    for await (const [key] of store.entries({ batchSize: 1 })) seen.push(key);
    expect(seen).toEqual(['a', 'n', 'y']);
  });

  pgIt('refuses a key holding U+0000 with ERR_KV_INVALID_KEY', async () => {
    await using store = await openStore(url as string, { pgSchema: fresh() });
    const err = await store.set('a\u0000b', 1).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ERR_KV_INVALID_KEY');
  });

  pgIt('counts exactly under concurrent increments on a pool', async () => {
    const pool = new Pool({ connectionString: url, max: 8 });
    try {
      const schema = fresh();
      const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(pool, { pgSchema: schema, table: 'counters' })));
      await Promise.all(stores.flatMap((s) => Array.from({ length: 50 }, () => s.incr('hits'))));
      expect(await stores[0]?.get('hits')).toBe(200);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await pool.end();
    }
  });

  pgIt('leaves an app pool open when the store closes', async () => {
    const pool = new Pool({ connectionString: url, max: 2 });
    const store = await openStore(pool, { pgSchema: fresh() });
    await store.close();
    const { rows } = await pool.query('SELECT 1 AS one');
    expect(rows[0].one).toBe(1);
    await pool.end();
  });

  pgIt('runs a database transaction on one client: all or nothing', async () => {
    await using db = await openDatabase(url as string, { pgSchema: fresh() });
    const a = await db.store('a');
    await expect(
      db.transaction(async (tx) => {
        const inner = await tx.store('a');
        await inner.set('k', 1);
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await a.get('k')).toBeUndefined();
    await db.transaction(async (tx) => {
      await (await tx.store('a')).set('k', 2);
      await (await tx.store('b')).set('k', 3);
    });
    expect(await a.get('k')).toBe(2);
    expect((await db.stores()).map((s) => s.name)).toEqual(['a', 'b']);
  });

  pgIt('refuses a store name longer than 48 characters', async () => {
    const err = await openStore(url as string, { table: "x".repeat(49) }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ERR_KV_INVALID_NAME');
  });
});
