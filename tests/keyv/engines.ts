// The engines the Keyv adapter is tested on (vitest: tests/helpers.ts and
// tests/servers/global-setup.ts belong to jest). Each `fresh()` is a new,
// empty store (a new file, or a new table in this file's PostgreSQL schema);
// `open()` on it opens another handle on the same store, with its own clock if
// given, to look under the adapter.
//
// PostgreSQL is DATABASE_URL or postgres://postgres@127.0.0.1:5432/test. When
// it cannot be reached its tests are skipped visibly, unless
// DRIZZLE_KV_BACKENDS names it (`all` or `pg`): then they fail.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll } from 'vitest';
import { KVStore, type Clock } from '../../src';
import { type KeyvBackingStore, keyvSerializer } from '../../src/keyv';
import * as libsql from '../../src/libsql';
import * as pg from '../../src/pg';
import * as sqliteAsync from '../../src/sqlite/async';
import { uniqueName } from '../servers';

const dirs: string[] = [];

/** A path for a new database file in a fresh temporary folder, removed after the test file. */
export function tempDb(name = 'keyv.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-keyv-'));
  dirs.push(dir);
  return join(dir, name);
}

export const PG_URL = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';

/**
 * `undefined` when PostgreSQL answers; otherwise why not. Asked by a child
 * process, synchronously, so that the tests are declared (or skipped) at once.
 */
function pgUnavailable(): string | undefined {
  const probe = `const { Client } = require('pg');
    const client = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    client.connect().then(() => client.query('select 1')).then(() => client.end(), (err) => { console.error(err.message); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', probe, PG_URL], { cwd: join(__dirname, '..', '..'), encoding: 'utf8', timeout: 10_000 });
  if (result.status === 0) return undefined;
  const why = (result.stderr || result.error?.message || `exit ${result.status}`).trim();
  return `PostgreSQL at ${PG_URL.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')} is not reachable: ${why}`;
}
const pgReason = pgUnavailable();

/** Whether DRIZZLE_KV_BACKENDS requires the engine (by name, alias or `all`). */
function required(names: readonly string[]): boolean {
  const listed = (process.env['DRIZZLE_KV_BACKENDS'] ?? '').split(',').map((s) => s.trim().toLowerCase());
  return listed.includes('all') || names.some((n) => listed.includes(n));
}

/** One store's place: every `open()` is another handle on it. */
export interface Place {
  readonly table: string;
  open(options?: { clock?: Clock }): Promise<KeyvBackingStore>;
}

export interface Engine {
  readonly name: string;
  /** Why it cannot run here, or `undefined`. */
  readonly unavailable: string | undefined;
  /** Whether a missing engine must fail the run instead of being skipped. */
  readonly required: boolean;
  /** A fresh, empty store's place (opened with the 'keyv' serializer). */
  fresh(table?: string): Place;
  /** Closes every handle opened since the last cleanup. */
  cleanup(): Promise<void>;
}

const pgSchema = uniqueName('kvkeyv');
let pgSchemaUsed = false;

function engine(name: string, aliases: readonly string[], unavailable: string | undefined, open: (path: string, table: string, clock?: Clock) => Promise<KeyvBackingStore>): Engine {
  const handles: KeyvBackingStore[] = [];
  return {
    name,
    unavailable,
    required: required([name, ...aliases]),
    fresh(table = uniqueName('keyv')) {
      const path = tempDb();
      return {
        table,
        async open(options = {}) {
          const store = await open(path, table, options.clock);
          handles.push(store);
          return store;
        },
      };
    },
    async cleanup() {
      for (const store of handles.splice(0)) if (!store.closed) await store.close();
    },
  };
}

const withClock = (clock: Clock | undefined) => (clock === undefined ? {} : { clock });

export const ENGINES: readonly Engine[] = [
  engine('sqlite-sync', ['sqlite'], undefined, async (path, table, clock) => new KVStore(path, { table, serializer: keyvSerializer, ...withClock(clock) })),
  engine('sqlite-async', ['sqlite'], undefined, (path, table, clock) => sqliteAsync.openStore(path, { table, serializer: keyvSerializer, ...withClock(clock) })),
  engine('libsql-file', ['libsql'], undefined, (path, table, clock) => libsql.openStore(`file:${path}`, { table, serializer: keyvSerializer, ...withClock(clock) })),
  engine('pg', ['pg'], pgReason, (_path, table, clock) => {
    pgSchemaUsed = true;
    return pg.openStore(PG_URL, { pgSchema, table, serializer: keyvSerializer, ...withClock(clock) });
  }),
];

afterAll(async () => {
  for (const e of ENGINES) await e.cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  if (!pgSchemaUsed) return;
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
  } finally {
    await client.end();
  }
});

type Awaitable<T> = T | Promise<T>;

/** A store of any engine as the tests look under the adapter: sync and async results alike (await every call). */
export interface RawStore {
  readonly name: string;
  get(key: string): Awaitable<unknown>;
  set(key: string, value: unknown, options?: { expiresAt?: number; ttl?: number | null }): Awaitable<void>;
  has(key: string): Awaitable<boolean>;
  ttl(key: string): Awaitable<number | undefined>;
  keys(options?: { prefix?: string }): Awaitable<string[]>;
  entries(options?: { prefix?: string; batchSize?: number }): Iterable<[string, unknown]> | AsyncIterable<[string, unknown]>;
  close(): Awaitable<void>;
}

export const raw = (store: KeyvBackingStore): RawStore => store as unknown as RawStore;

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
}
