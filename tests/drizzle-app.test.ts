/** Apps that already use Drizzle: their connection, their transactions, their migrations. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { storeSteps } from '../migrations/store';
import { KVDatabase, KVStore } from '../src';
import { kvTable } from '../src/schema';
import { isConnectionSource } from '../src/sqlite/connection';
import { builtEntry, root } from './built';
import { tempDb, thrown, withRaw } from './helpers';

/** An app's connection, with settings this library would not choose. */
function appConnection(path = tempDb()) {
  const client = new Database(path, { timeout: 1234 });
  client.pragma('synchronous = FULL');
  client.pragma('cache_size = -2000');
  return { client, db: drizzle({ client }) };
}

const settings = (client: Database.Database) => ({
  journal: client.pragma('journal_mode', { simple: true }),
  synchronous: client.pragma('synchronous', { simple: true }),
  cache: client.pragma('cache_size', { simple: true }),
  timeout: client.pragma('busy_timeout', { simple: true }),
});

/**
 * The DDL drizzle-kit generates for kvTable(name): what an app's own
 * migrations would run. The steps' custom SQL (backfills, the counters and
 * tag triggers of managed stores) is not the table's declaration, and is left out.
 */
function appMigration(client: Database.Database, name: string, steps = storeSteps): void {
  const declared = /^(CREATE TABLE|ALTER TABLE|CREATE INDEX)/;
  for (const step of steps) {
    for (const statement of step.statements) if (declared.test(statement)) client.exec(statement.replaceAll('__kv_store__', name));
  }
}

describe('a store on an app’s own connection', () => {
  let emitWarning: jest.SpyInstance;
  beforeEach(() => {
    emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterEach(() => emitWarning.mockRestore());

  it('uses the connection as it is, changing none of its settings', () => {
    const { client, db } = appConnection();
    const before = settings(client);
    const store = new KVStore(db, 'sessions');
    store.set('k', 1);
    expect(store.get('k')).toBe(1);
    expect(settings(client)).toEqual(before);
    expect(before.journal).toBe('delete');
    store.close();
    expect(client.open).toBe(true); // the app's to close
    client.close();
  });

  it('says once per connection which recommended settings are missing', () => {
    const { client, db } = appConnection();
    new KVStore(db, 'a').close();
    new KVDatabase(client).store('b');
    expect(emitWarning).toHaveBeenCalledTimes(1);
    expect(emitWarning.mock.calls[0]?.[0]).toContain('journal_mode is delete');
    expect(emitWarning.mock.calls[0]?.[1]).toMatchObject({ code: 'DRIZZLE_KV_CONNECTION_SETTINGS' });

    const good = new Database(tempDb(), { timeout: 5000 });
    good.pragma('journal_mode = WAL');
    new KVStore(good, 'a').close();
    expect(emitWarning).toHaveBeenCalledTimes(1);
    good.close();
    client.close();
  });

  it('joins the app’s transactions, Drizzle’s and better-sqlite3’s', () => {
    const { client, db } = appConnection();
    using kv = new KVDatabase(db);
    const store = kv.store('cache');
    expect(() =>
      db.transaction(() => {
        store.set('inside', 1);
        store.incr('n'); // a nested IMMEDIATE transaction becomes a savepoint
        throw new Error('app rollback');
      }),
    ).toThrow('app rollback');
    expect(store.has('inside') || store.has('n')).toBe(false);
    client.transaction(() => store.set('committed', true))();
    expect(store.get('committed')).toBe(true);
    kv.close();
    expect(client.open).toBe(true);
    client.close();
  });

  it('lets the app query the store table with typed Drizzle', () => {
    const { client, db } = appConnection();
    using store = new KVStore(db, 'prices');
    store.setMany({ 'fruit:apple': 3, 'fruit:pear': 4, 'veg:leek': 2 });
    const prices = kvTable('prices');
    const rows = db
      .select({ key: prices.key, price: sql<number>`json_extract(${prices.value}, '$')` })
      .from(prices)
      .where(sql`${prices.key} >= 'fruit:' AND ${prices.key} < 'fruit;'`)
      .all();
    expect(rows).toEqual([
      { key: 'fruit:apple', price: 3 },
      { key: 'fruit:pear', price: 4 },
    ]);
    client.close();
  });

  it('refuses file options, which belong to the app', () => {
    const { client, db } = appConnection();
    for (const option of [{ timeout: 1 }, { readonly: true }, { durability: 'full' }] as const) {
      const err = thrown(() => new KVStore(db, { table: 'x', ...option }));
      expect(err.code).toBe('ERR_KV_INVALID_OPTION');
      expect(err.message).toContain('your own connection');
      expect(thrown(() => new KVDatabase(db as never, option as never)).code).toBe('ERR_KV_INVALID_OPTION');
    }
    client.close();
    expect(thrown(() => new KVStore(db, 'x')).code).toBe('ERR_KV_CLOSED');
  });

  it('reports an app connection closed under the store, or a file that is not a database, with typed errors', () => {
    const { client, db } = appConnection();
    const store = new KVStore(db, 'x');
    client.close();
    expect(thrown(() => store.get('k')).code).toBe('ERR_KV_CLOSED');
    expect(thrown(() => store.set('k', 1)).code).toBe('ERR_KV_CLOSED');
    const path = tempDb('notes.txt');
    require('node:fs').writeFileSync(path, 'not a database '.repeat(200));
    const notADatabase = new Database(path);
    expect(thrown(() => new KVStore(notADatabase)).code).toBe('ERR_KV_NOT_A_DATABASE');
    expect(thrown(() => new KVDatabase(notADatabase)).code).toBe('ERR_KV_NOT_A_DATABASE');
    notADatabase.close();
  });

  it('recognises a connection by its shape, so another copy of better-sqlite3 works too', () => {
    const { client } = appConnection();
    const lookalike = { open: true, prepare() {}, pragma() {}, transaction() {}, exec() {} };
    expect([isConnectionSource(client), isConnectionSource({ $client: client }), isConnectionSource(lookalike)]).toEqual([true, true, true]);
    expect([isConnectionSource('file.db'), isConnectionSource({ prepare() {} }), isConnectionSource(null)]).toEqual([false, false, false]);
    client.close();
  });

  it('runs examples/drizzle-app.ts', () => {
    builtEntry();
    const out = execFileSync(process.execPath, [join(root, 'scripts/run-example.mjs'), join(root, 'examples/drizzle-app.ts'), tempDb()], {
      encoding: 'utf8',
    });
    expect(out.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      [
        { session: 'sess:a1', user: 'Alice' },
        { session: 'sess:a2', user: 'Alice' },
        { session: 'sess:b7', user: 'Bob' },
      ],
      { mallory: false, users: 2 },
      { appConnectionOpen: true },
    ]);
  });
});

/** An app's connection with the settings drizzle-kv recommends (WAL, a busy timeout), so it has nothing to warn about. */
function recommendedConnection(path: string): Database.Database {
  const client = new Database(path, { timeout: 5000 });
  client.pragma('journal_mode = WAL');
  return client;
}

describe("schema: 'external'", () => {
  it('uses a table the app’s migrations created, creating and recording nothing', () => {
    const path = tempDb();
    const client = recommendedConnection(path);
    appMigration(client, 'sessions');
    using store = new KVStore(client, { table: 'sessions', schema: 'external' });
    store.set('k', { v: 1 }, 60);
    expect(store.get('k')).toEqual({ v: 1 });
    const tables = withRaw(path, (raw) => raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all());
    expect(tables).toEqual(['sessions']);
    client.close();
  });

  it('names exactly what differs, and changes nothing', () => {
    const path = tempDb();
    const client = recommendedConnection(path);
    appMigration(client, 'old', storeSteps.slice(0, 1)); // an app migration from before format 2
    client.exec('CREATE TABLE wrong (key TEXT PRIMARY KEY, value TEXT, expires_at INTEGER, updated_at INTEGER NOT NULL, size INTEGER NOT NULL, owner TEXT NOT NULL)');
    const before = withRaw(path, (raw) => raw.prepare('SELECT sql FROM sqlite_master ORDER BY name').pluck().all());

    const old = thrown(() => new KVStore(client, { table: 'old', schema: 'external' }));
    expect(old.code).toBe('ERR_KV_SCHEMA_MISMATCH');
    expect(old.message).toContain('column "updated_at" (INTEGER NOT NULL) is missing');
    expect(old.message).toContain('column "size" (INTEGER NOT NULL) is missing');

    const wrong = thrown(() => new KVDatabase(client).store('wrong', { schema: 'external' }));
    expect(wrong.message).toContain('column "value" is TEXT, not BLOB NOT NULL');
    expect(wrong.message).toContain('column "owner" is NOT NULL without a default');
    expect(wrong.message).toContain('index "wrong_expires_at_idx" on (expires_at) WHERE "expires_at" IS NOT NULL is missing');

    expect(thrown(() => new KVStore(client, { table: 'absent', schema: 'external' })).message).toContain('table "absent" does not exist');
    expect(withRaw(path, (raw) => raw.prepare('SELECT sql FROM sqlite_master ORDER BY name').pluck().all())).toEqual(before);
    client.close();
  });
});
