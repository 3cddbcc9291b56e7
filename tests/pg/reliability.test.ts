// Several processes on one PostgreSQL database through the built drizzle-kv/pg:
// a fresh store opened by 8 at once, 8 × 1000 mixed operations, and a server
// restart in the middle of a run.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import type * as PgEntry from '../../src/pg';
import { builtEntry, root } from '../built';
import { pgSchemas, pgUrl } from '../servers';
import { postgresBinaries, startPostgres } from '../servers/throwaway-pg';

const url = pgUrl();
const pgIt = url === undefined ? it.skip : it;
const bin = postgresBinaries();
const restartIt = bin === undefined ? it.skip : it;
const schemas = pgSchemas('kvrel');
const WORKER = join(__dirname, '../children/pg-worker.cjs');

afterAll(schemas.dropAll);

interface Child {
  readonly process: ChildProcess;
  readonly report: Promise<Record<string, unknown>>;
}

/** Starts a worker and resolves once it said "ready"; its report is the last line it prints. */
async function worker(args: string[]): Promise<Child> {
  builtEntry();
  const child = spawn(process.execPath, [WORKER, ...args], {
    env: { ...process.env, DRIZZLE_KV_PG_ENTRY: join(root, 'dist/pg.cjs') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const ready = new Promise<void>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready\n')) resolve();
    });
  });
  const report = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on('exit', () => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`worker printed no report: ${out}`));
      }
    });
  });
  await ready;
  return { process: child, report };
}

async function query<T>(connectionString: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('several processes on PostgreSQL', () => {
  pgIt('8 processes opening a fresh store at once all succeed', async () => {
    const schema = schemas.fresh();
    const children = await Promise.all(Array.from({ length: 8 }, (_, i) => worker(['open', url as string, schema, String(i)])));
    for (const child of children) child.process.stdin?.write('go\n');
    const reports = await Promise.all(children.map((c) => c.report));
    expect(reports).toEqual(Array.from({ length: 8 }, () => ({ ok: true })));
    const [row] = await query<{ value: Buffer }>(url as string, `SELECT value FROM "${schema}".shared WHERE key = 'opens'`);
    expect(row?.value.toString()).toBe('8');
  });

  pgIt('8 processes × 1000 mixed operations: counters exact, pops unique, batches whole, add races won once', async () => {
    const schema = schemas.fresh();
    const { openStore } = require(join(root, 'dist/pg.cjs')) as typeof PgEntry;
    const setup = await openStore(url as string, { pgSchema: schema, table: 'shared' });
    await setup.setMany(Array.from({ length: 400 }, (_, i) => [`pool:${i}`, i] as const));
    await setup.close();
    const children = await Promise.all(Array.from({ length: 8 }, (_, i) => worker(['mix', url as string, schema, String(i), '1000'])));
    for (const child of children) child.process.stdin?.write('go\n');
    const reports = (await Promise.all(children.map((c) => c.report))) as unknown as {
      incr: number; txIncr?: number; popped: number[]; addWins: string[]; own: Record<string, number>; torn: unknown[]; fatal?: string;
    }[];
    expect(reports.filter((r) => r.fatal !== undefined)).toEqual([]);
    const store = await openStore(url as string, { pgSchema: schema, table: 'shared' });
    try {
      expect(await store.get('counter')).toBe(reports.reduce((n, r) => n + r.incr, 0));
      expect(await store.get('tx-counter')).toBe(reports.reduce((n, r) => n + (r.txIncr ?? 0), 0));
      const popped = reports.flatMap((r) => r.popped);
      expect(new Set(popped).size).toBe(popped.length); // no value handed out twice
      for (const value of popped) expect(await store.has(`pool:${value}`)).toBe(false);
      const wins = reports.flatMap((r) => r.addWins);
      expect(new Set(wins).size).toBe(wins.length); // every contested add won by one process
      expect(reports.flatMap((r) => r.torn)).toEqual([]); // own reads and batches always whole
      const own = Object.assign({}, ...reports.map((r) => r.own)) as Record<string, number>;
      expect(await store.getMany(Object.keys(own))).toEqual(new Map(Object.entries(own)));
      console.log(
        `8 processes × 1000 operations on PostgreSQL: counter ${String(await store.get('counter'))} of ${reports.reduce((n, r) => n + r.incr, 0)} increments, ` +
          `${popped.length} pops (all distinct), ${wins.length} contested adds won once each, ${Object.keys(own).length} own keys read back`,
      );
    } finally {
      await store.close();
    }
  }, 120_000);

  restartIt('a server restart fails operations in flight with a typed error; the store works again by itself and loses nothing acknowledged', async () => {
    const server = startPostgres(bin as string);
    try {
      const children = await Promise.all(Array.from({ length: 4 }, (_, i) => worker(['restart', server.url, 'kv', String(i)])));
      for (const child of children) child.process.stdin?.write('go\n');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      server.restart();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (const child of children) child.process.stdin?.write('stop\n');
      const reports = (await Promise.all(children.map((c) => c.report))) as unknown as {
        id: number; acked: number[]; errors: Record<string, number>; afterFailure: number; fatal?: string;
      }[];
      expect(reports.filter((r) => r.fatal !== undefined)).toEqual([]);
      for (const report of reports) {
        // Every failure was one of the library's typed errors for a server going away.
        for (const code of Object.keys(report.errors)) expect(['ERR_KV_UNAVAILABLE', 'ERR_KV_TIMEOUT']).toContain(code);
        expect(Object.keys(report.errors).length).toBeGreaterThan(0); // the restart was felt
        expect(report.afterFailure).toBeGreaterThan(0); // and the same store wrote again afterwards
        const rows = await query<{ key: string }>(server.url, `SELECT key FROM kv.restart WHERE key LIKE 'k:${report.id}:%'`);
        const stored = new Set(rows.map((row) => Number(row.key.split(':')[2])));
        expect(report.acked.filter((i) => !stored.has(i))).toEqual([]); // nothing acknowledged was lost
      }
      const failures = reports.map((r) => Object.entries(r.errors).map(([code, n]) => `${n} ${code}`).join(', '));
      console.log(
        `a PostgreSQL restart under 4 writing processes: ${reports.reduce((n, r) => n + r.acked.length, 0)} acknowledged writes, all kept; ` +
          `failures per process: ${failures.join(' / ')}; writes after the first failure: ${reports.map((r) => r.afterFailure).join(', ')}`,
      );
    } finally {
      server.stop();
    }
  }, 120_000);
});
