// PostgreSQL-specific behaviour: sources, schemas, locks, concurrency. The shared semantics are in tests/contract/.
import { Client, Pool } from 'pg';
import { openDatabase, openStore } from '../../src/pg';
import { PgQueries } from '../../src/pg/queries';
import { pgBookkeeping, pgKvTable } from '../../src/pg/schema';
import { pgSchemas, pgUrl } from '../servers';

const url = pgUrl();
const pgIt = url === undefined ? it.skip : it;
const { fresh, dropAll } = pgSchemas('kvpg');

afterAll(dropAll);

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

  pgIt('runs on one app Client: its transactions hold it, and the outer store used inside one is refused, not hung', async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const schema = fresh();
      const store = await openStore(client, { pgSchema: schema });
      await store.set('k', 1);
      const inner = await store.transaction(async (tx) => {
        await tx.incr('k');
        return (store.get('k') as Promise<unknown>).catch((e: { code?: string }) => e.code);
      });
      expect(inner).toBe('ERR_KV_INVALID_ARGUMENT');
      expect(await store.get('k')).toBe(2);
      await store.close();
      expect((await client.query('SELECT 1 AS one')).rows[0].one).toBe(1); // still the app's, still open
    } finally {
      await client.end();
    }
  });

  pgIt('maps an unreachable server, a missing database and a statement timeout to typed errors, the driver error as cause', async () => {
    const down = await openStore('postgres://postgres@127.0.0.1:1/test').catch((e: unknown) => e);
    expect((down as { code?: string }).code).toBe('ERR_KV_UNAVAILABLE');
    expect((down as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    const target = new URL(url as string);
    target.pathname = '/no_such_database_kv';
    const missing = await openStore(target.toString()).catch((e: unknown) => e);
    expect((missing as { code?: string }).code).toBe('ERR_KV_CANT_OPEN');
    expect((missing as { cause?: { code?: string } }).cause?.code).toBe('3D000');
    // A counter whose key lock another session holds waits; the server's statement_timeout ends the wait.
    const schema = fresh();
    const pool = new Pool({ connectionString: url, options: '-c statement_timeout=300' });
    const holder = new Client({ connectionString: url });
    await holder.connect();
    try {
      const store = await openStore(pool, { pgSchema: schema, table: 'slow' });
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`"${schema}"."slow":n`]);
      const timedOut = await store.incr('n').catch((e: unknown) => e);
      expect((timedOut as { code?: string }).code).toBe('ERR_KV_TIMEOUT');
      expect((timedOut as { cause?: { code?: string } }).cause?.code).toBe('57014');
      await holder.query('ROLLBACK');
      expect(await store.incr('n')).toBe(1); // nothing half-written, and the store works on
      await store.close();
    } finally {
      await holder.end();
      await pool.end();
    }
  });

  pgIt('refuses a store a newer release migrated, and explains a handle whose store was dropped or recreated', async () => {
    const schema = fresh();
    await using db = await openDatabase(url as string, { pgSchema: schema });
    const mine = await db.store('kv');
    await mine.set('k', 1);
    const admin = new Client({ connectionString: url });
    await admin.connect();
    try {
      // Another handle drops the store: this one's writes are refused, naming why, and write nothing.
      await using other = await openDatabase(url as string, { pgSchema: schema });
      expect(await other.drop('kv')).toBe(true);
      const dropped = (await mine.set('k', 2).catch((e: unknown) => e)) as { code?: string; message?: string };
      expect(dropped.code).toBe('ERR_KV_NO_SUCH_STORE');
      expect(dropped.message).toMatch(/dropped by another connection/);
      const stale = await openStore(url as string, { pgSchema: schema, table: 'kv2' });
      await (await other.store('kv2', { serializer: 'json' })).set('x', 1);
      await other.drop('kv2');
      await (await other.store('kv2', { serializer: 'v8' })).set('x', 1);
      const refused = (await stale.set('y', 1).catch((e: unknown) => e)) as { code?: string };
      expect(refused.code).toBe('ERR_KV_SERIALIZER_MISMATCH');
      expect((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".kv2 WHERE key = 'y'`)).rows[0].n).toBe(0);
      await stale.close();
      // A newer release migrated kv2: this one refuses to open, migrate or drop it.
      await admin.query(`UPDATE "${schema}".drizzle_kv_stores SET version = 99 WHERE name = 'kv2'`);
      const newer = (await openStore(url as string, { pgSchema: schema, table: 'kv2', serializer: 'v8' }).catch((e: unknown) => e)) as { code?: string };
      expect(newer.code).toBe('ERR_KV_FORMAT_TOO_NEW');
      expect((await other.inspect()).newer).toBe(true);
      expect(((await other.migrate().catch((e: unknown) => e)) as { code?: string }).code).toBe('ERR_KV_FORMAT_TOO_NEW');
      expect(((await other.drop('kv2').catch((e: unknown) => e)) as { code?: string }).code).toBe('ERR_KV_FORMAT_TOO_NEW');
      expect(await other.drop('kv2', { force: true })).toBe(true);
    } finally {
      await admin.end();
    }
  });

  pgIt('culls through the partial expiry index, also on a fresh table without statistics (the SQL the repository prepares)', async () => {
    const schema = fresh();
    const store = await openStore(url as string, { pgSchema: schema, table: 'big' });
    await store.setMany(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i] as const));
    await store.close();
    const queries = new PgQueries(pgKvTable('big', { schema }), pgBookkeeping(schema), { table: "big", version: 3, serializer: 'json' });
    const cull = queries.get('cull');
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE cull_plan AS ${cull.text}`);
      const { rows } = await client.query('EXPLAIN EXECUTE cull_plan(1, 100)');
      const plan = rows.map((row: Record<string, string>) => Object.values(row)[0]).join('\n');
      expect(plan).toContain('big_expires_at_idx');
      expect(plan).not.toMatch(/Seq Scan on big\b/);
    } finally {
      await client.end();
    }
  });
  pgIt('keeps the counters exact under concurrent writers on many connections, each adding to its own shard', async () => {
    const schema = fresh();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(url as string, { pgSchema: schema, table: 'shared', limits: { maxEntries: 150 } })));
    try {
      await Promise.all(
        stores.map(async (store, w) => {
          for (let i = 0; i < 100; i++) {
            await store.set(`k${(i * 7 + w) % 120}`, 'x'.repeat(i % 30), { tags: i % 3 === 0 ? ['t'] : [] });
            if (i % 10 === 0) await store.delete(`k${(i + w) % 120}`);
            if (i % 25 === 0) await store.setMany({ [`m${w}:${i}`]: i, [`m${w}:${i + 1}`]: i });
          }
        }),
      );
      await stores[0]!.invalidateTag('t');
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        const counters = await client.query(`SELECT sum(bytes)::int AS bytes, sum(entries)::int AS entries, count(*)::int AS shards FROM "${schema}".drizzle_kv_counters WHERE store = 'shared'`);
        const table = await client.query(`SELECT coalesce(sum(size), 0)::int AS bytes, count(*)::int AS entries FROM "${schema}".shared`);
        expect({ bytes: counters.rows[0].bytes, entries: counters.rows[0].entries }).toEqual(table.rows[0]);
        expect(counters.rows[0].shards).toBeGreaterThan(1);
        expect(table.rows[0].entries).toBeLessThanOrEqual(150 + 8);
      } finally {
        await client.end();
      }
    } finally {
      for (const store of stores) await store.close();
    }
  });
});
