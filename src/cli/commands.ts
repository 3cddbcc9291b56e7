/**
 * The commands of the `drizzle-kv` tool, each a function of its parsed
 * arguments. They run on the async API of every engine, so one command
 * serves a SQLite file, a PostgreSQL URL and a libSQL URL alike.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AsyncKVDatabase } from '../async/database';
import type { AsyncKVStore } from '../async/store';
import type { StoreInfo } from '../core/api';
import type { KVDatabase } from '../sqlite/database';
import { KVError } from '../core/errors';
import { describeLimits } from '../core/limits';
import type { Clock } from '../core/options';
import { v8Serializer } from '../core/serializer';
import { type OpenOptions, type Target, openTarget } from './open';
import { type Cell, Progress, type Terminal, json, line, table } from './output';

/** What a command ends with: its exit code (see `main.ts`). */
export type ExitCode = 0 | 1 | 3;

/** What every command is given. */
export interface Context {
  readonly term: Terminal;
  readonly target: Target;
  /** The store the command works on. */
  readonly store: string;
  readonly json: boolean;
  readonly pgSchema: string | undefined;
  /** Asks a yes/no question on the terminal; `false` where there is none to ask. */
  readonly confirm: (question: string) => Promise<boolean>;
}

/** A refusal the user can fix: exit code 3, one line. */
export class Refused extends Error {}

/** The serializer of a store the tool can read and write (a built-in one), or `undefined` for a custom one. */
function builtIn(info: StoreInfo): 'json' | 'v8' | undefined {
  return info.serializer === 'json' || info.serializer === 'v8' ? info.serializer : undefined;
}

/** The refusal of a store written with a custom serializer, which only its own code can read and write. */
function customSerializer(info: StoreInfo): Refused {
  return new Refused(`store "${info.name}" was written with the custom serializer "${info.serializer}", which only its own code can read and write`);
}

/** Runs `fn` on the target's database, closed afterwards whatever happens. */
async function withDatabase<T>(ctx: Context, options: OpenOptions, fn: (db: AsyncKVDatabase) => Promise<T>): Promise<T> {
  const db = await openTarget(ctx.target, { ...options, ...(ctx.pgSchema === undefined ? {} : { pgSchema: ctx.pgSchema }) });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The record of store `name`, or a refusal naming the stores there are. */
function recordOf(stores: readonly StoreInfo[], name: string): StoreInfo {
  const found = stores.find((s) => s.name === name);
  if (found !== undefined) return found;
  const known = stores.length === 0 ? 'it has none' : `its stores: ${stores.map((s) => s.name).join(', ')}`;
  throw new KVError('ERR_KV_NO_SUCH_STORE', `there is no store "${name}" (${known}); pick one with --store`);
}

/**
 * Runs `fn` on the context's store, opened with its recorded serializer. It
 * must exist, unless `create` (a write makes a new store, with the JSON serializer).
 */
async function withStore<T>(
  ctx: Context,
  options: OpenOptions & { create?: boolean; stats?: 'persisted'; clock?: Clock },
  fn: (store: AsyncKVStore, info: StoreInfo) => Promise<T>,
): Promise<T> {
  return withDatabase(ctx, options, async (db) => {
    const all = await db.stores();
    const info: StoreInfo =
      options.create === true && !all.some((s) => s.name === ctx.store)
        ? { name: ctx.store, version: 0, serializer: 'json', createdAt: 0, limits: null }
        : recordOf(all, ctx.store);
    const serializer = builtIn(info);
    if (serializer === undefined) throw customSerializer(info);
    const store = await db.store(info.name, {
      serializer,
      ...(options.stats === undefined ? {} : { stats: options.stats }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    return fn(store, info);
  });
}

const READ: OpenOptions = { readonly: true };

/** `stores`: every store, what it holds and its limits. */
export async function stores(ctx: Context): Promise<ExitCode> {
  const rows = await withDatabase(ctx, READ, async (db) => {
    const found = [];
    for (const info of await db.stores()) {
      const serializer = builtIn(info);
      if (serializer === undefined) {
        found.push({ ...info, live: undefined, expired: undefined, bytes: undefined });
        continue;
      }
      const store = await db.store(info.name, { serializer });
      const [live, stats] = [await store.size, await store.stats()];
      found.push({ ...info, live, expired: (stats.entries ?? live) - live, bytes: stats.bytes });
    }
    return found;
  });
  if (ctx.json) {
    json(ctx.term, rows);
    return 0;
  }
  const n = (v: number | undefined): Cell => v ?? '—';
  table(
    ctx.term,
    ['store', 'format', 'serializer', 'live', 'expired', 'bytes', 'limits'],
    rows.map((r) => [r.name, r.version, r.serializer, n(r.live), n(r.expired), n(r.bytes), describeLimits(r.limits)]),
  );
  return 0;
}

/** `keys`: the live keys, in key order. */
export async function keys(ctx: Context, prefix: string | undefined, limit: number | undefined): Promise<ExitCode> {
  const found = await withStore(ctx, READ, async (store) => {
    const out: string[] = [];
    for await (const [key] of store.entries(prefix === undefined ? {} : { prefix })) {
      if (limit !== undefined && out.length >= limit) break;
      out.push(key);
    }
    return out;
  });
  if (ctx.json) json(ctx.term, found);
  else for (const key of found) line(ctx.term, key);
  return 0;
}

/** `get`: one value, as JSON; exit 1 when the key is missing or expired. */
export async function get(ctx: Context, key: string): Promise<ExitCode> {
  const MISSING = Symbol('missing');
  const value = await withStore(ctx, READ, (store) => store.get(key, MISSING));
  if (value === MISSING) {
    if (ctx.json) json(ctx.term, null);
    return 1;
  }
  json(ctx.term, value);
  return 0;
}

/** `set`: stores a JSON value, with a TTL and tags if given. */
export async function set(ctx: Context, key: string, text: string, ttl: number | undefined, tags: string[] | undefined): Promise<ExitCode> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Refused(`the value is not JSON: ${(err as Error).message} (quote a string: '"text"')`);
  }
  await withStore(ctx, { create: true }, (store) => store.set(key, value, { ttl, ...(tags === undefined ? {} : { tags }) }));
  return 0;
}

/** `delete`: removes a key; exit 1 when there was no live value. */
export async function remove(ctx: Context, key: string): Promise<ExitCode> {
  const removed = await withStore(ctx, {}, (store) => store.delete(key));
  if (ctx.json) json(ctx.term, { deleted: removed });
  return removed ? 0 : 1;
}

/** `clear`: every entry, or those of a prefix; everything only once confirmed (or with --yes). */
export async function clear(ctx: Context, prefix: string | undefined, yes: boolean): Promise<ExitCode> {
  if (prefix === undefined && !yes && !(await ctx.confirm(`Delete every entry of store "${ctx.store}"?`))) {
    throw new Refused(`not confirmed: nothing was deleted (pass --yes to delete every entry of "${ctx.store}" without asking)`);
  }
  const n = await withStore(ctx, {}, (store) => store.clear(prefix === undefined ? undefined : { prefix }));
  if (ctx.json) json(ctx.term, { deleted: n });
  else line(ctx.term, `deleted ${n} ${n === 1 ? 'entry' : 'entries'}`);
  return 0;
}

/** `purge`: deletes the expired rows. */
export async function purge(ctx: Context): Promise<ExitCode> {
  const n = await withStore(ctx, {}, (store) => store.purgeExpired());
  if (ctx.json) json(ctx.term, { purged: n });
  else line(ctx.term, `purged ${n} expired ${n === 1 ? 'row' : 'rows'}`);
  return 0;
}

/** `stats`: the store's statistics (those persisted by its handles) and what it holds. */
export async function stats(ctx: Context): Promise<ExitCode> {
  const found = await withStore(ctx, { ...READ, stats: 'persisted' }, async (store) => ({ ...(await store.stats()), live: await store.size }));
  if (ctx.json) {
    json(ctx.term, found);
    return 0;
  }
  const rows: [string, Cell][] = [
    ['live entries', found.live],
    ['rows (live and expired)', found.entries ?? '—'],
    ['bytes', found.bytes ?? '—'],
    ['limits', describeLimits(found.limits)],
    ...(['hits', 'misses', 'sets', 'deletes', 'evictions', 'expirations'] as const).map((k): [string, Cell] => [k, found[k]]),
  ];
  table(ctx.term, ['statistic', 'value'], rows);
  return 0;
}

/** `migrate`: what is pending; with --apply, migrates it. */
export async function migrate(ctx: Context, apply: boolean): Promise<ExitCode> {
  return withDatabase(ctx, apply ? {} : READ, async (db) => {
    const report = await db.inspect();
    const pending = report.stores.filter((s) => s.pending).map((s) => s.name);
    if (report.newer) throw new Refused(`stores in a newer format than this drizzle-kv: ${report.stores.filter((s) => s.newer).map((s) => s.name).join(', ')}; upgrade drizzle-kv`);
    if (!apply) {
      if (ctx.json) json(ctx.term, report);
      else if (!report.pending) line(ctx.term, 'nothing to migrate');
      else line(ctx.term, `to migrate to format ${report.supportedStoreVersion}: ${pending.join(', ') || '(the bookkeeping only)'} (run with --apply)`);
      return report.pending ? 1 : 0;
    }
    const migrated = await db.migrate();
    if (ctx.json) json(ctx.term, { migrated });
    else line(ctx.term, migrated.length === 0 ? 'nothing to migrate' : `migrated ${migrated.join(', ')}`);
    return 0;
  });
}

/** One line of an export: a key, its value (JSON, or the `v8` serializer's bytes in base64), its expiry and tags. */
interface ExportLine {
  key: string;
  value?: unknown;
  v8?: string;
  expiresAt: number | null;
  tags?: string[];
}


/** `export`: the store's live entries as JSON Lines, streamed (to a file or stdout). */
export async function exportStore(ctx: Context, out: string | undefined): Promise<ExitCode> {
  const sink = out === undefined ? ctx.term.out : createWriteStream(out);
  let n = 0;
  // One instant for the whole export: what is live, and every expiry, are read at it, to the millisecond.
  const now = Date.now();
  await withStore(ctx, { ...READ, clock: { now: () => now } }, async (store, info) => {
    const progress = new Progress(ctx.term, 'export', await store.size);
    for await (const [key, value] of store.entries()) {
      const [ttl, tags] = [await store.ttl(key), await store.tagsOf(key)];
      if (ttl === undefined) continue; // expired meanwhile
      const row: ExportLine =
        info.serializer === 'v8'
          ? { key, v8: Buffer.from(v8Serializer.serialize(value)).toString('base64'), expiresAt: null }
          : { key, value, expiresAt: null };
      row.expiresAt = ttl === Infinity ? null : now + Math.round(ttl * 1000);
      if (tags !== undefined && tags.length > 0) row.tags = tags;
      if (!sink.write(`${JSON.stringify(row)}\n`) && sink !== ctx.term.out) await new Promise((resolve) => (sink as NodeJS.WritableStream).once('drain', resolve));
      n++;
      progress.add(1);
    }
    progress.finish();
  });
  if (sink !== ctx.term.out) await new Promise<void>((resolve, reject) => (sink as NodeJS.WritableStream).end((err?: Error) => (err ? reject(err) : resolve())));
  if (out !== undefined && !ctx.json) line(ctx.term, `exported ${n} ${n === 1 ? 'entry' : 'entries'} to ${out}`);
  else if (out !== undefined) json(ctx.term, { exported: n });
  return 0;
}

/** Rows an import writes per transaction. */
const IMPORT_BATCH = 1000;

/** `import`: JSON Lines made by `export` (from a file or stdin), in transactions of 1000; expired lines are skipped. */
export async function importStore(ctx: Context, input: string | undefined): Promise<ExitCode> {
  const lines = createInterface({ input: input === undefined ? process.stdin : createReadStream(input), crlfDelay: Infinity });
  let [written, skipped, at] = [0, 0, 0];
  const clock = { at: Date.now(), now(): number { return this.at; } };
  await withDatabase(ctx, {}, async (db) => {
    const known = (await db.stores()).find((s) => s.name === ctx.store);
    let store: AsyncKVStore | undefined;
    /** The store, opened at the first batch: a new one takes the serializer the export was made with. */
    const open = (first: ExportLine): Promise<AsyncKVStore> => {
      if (known === undefined) return db.store(ctx.store, { serializer: first.v8 !== undefined ? 'v8' : 'json', clock });
      const serializer = builtIn(known);
      if (serializer === undefined) throw customSerializer(known);
      return db.store(ctx.store, { serializer, clock });
    };
    const progress = new Progress(ctx.term, 'import');
    let batch: ExportLine[] = [];
    const flush = async () => {
      const rows = batch;
      batch = [];
      const first = rows[0];
      if (first === undefined) return;
      // One instant per batch: a line is skipped as expired, or written, by the same clock the store checks it with.
      clock.at = Date.now();
      const now = clock.at;
      store ??= await open(first);
      await store.transaction(async (tx) => {
        for (const row of rows) {
          if (row.expiresAt !== null && row.expiresAt <= now) {
            skipped++;
            continue;
          }
          const value = row.v8 !== undefined ? v8Serializer.deserialize(Buffer.from(row.v8, 'base64')) : row.value;
          const expiry = row.expiresAt === null ? { ttl: null } : { expiresAt: row.expiresAt };
          await tx.set(row.key, value, { ...expiry, ...(row.tags === undefined ? {} : { tags: row.tags }) });
          written++;
        }
      });
      progress.add(rows.length);
    };
    for await (const text of lines) {
      at++;
      if (text.trim() === '') continue;
      batch.push(parseLine(text, at));
      if (batch.length === IMPORT_BATCH) await flush();
    }
    await flush();
    progress.finish();
  });
  if (ctx.json) json(ctx.term, { imported: written, skippedExpired: skipped });
  else line(ctx.term, `imported ${written} ${written === 1 ? 'entry' : 'entries'}${skipped > 0 ? ` (${skipped} expired, skipped)` : ''}`);
  return 0;
}

/** One line of an import, checked: nothing of a malformed file is half-imported past the batch it is in. */
function parseLine(text: string, at: number): ExportLine {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch (err) {
    throw new Refused(`line ${at} is not JSON: ${(err as Error).message}`);
  }
  const r = row as Partial<ExportLine>;
  const ok =
    typeof row === 'object' &&
    row !== null &&
    typeof r.key === 'string' &&
    ('value' in r || typeof r.v8 === 'string') &&
    (r.expiresAt === null || typeof r.expiresAt === 'number') &&
    (r.tags === undefined || (Array.isArray(r.tags) && r.tags.every((t) => typeof t === 'string')));
  if (!ok) throw new Refused(`line ${at} is not an entry of drizzle-kv export ({ key, value | v8, expiresAt, tags? })`);
  return r as ExportLine;
}

/** `adopt-kv-cache`: converts kv-cache (Python) tables of a SQLite file. */
export async function adopt(ctx: Context, tables: string[] | undefined, timeZone: string | undefined): Promise<ExitCode> {
  if (ctx.target.engine !== 'sqlite') throw new Refused('adopt-kv-cache converts tables of a SQLite file, not of a server');
  const { KVDatabase } = loadSync();
  const db = new KVDatabase(ctx.target.source);
  try {
    const adopted = db.adoptKvCache({ ...(tables === undefined ? {} : { tables }), ...(timeZone === undefined ? {} : { timeZone }) });
    if (ctx.json) json(ctx.term, adopted);
    else if (adopted.length === 0) line(ctx.term, 'no kv-cache tables to adopt');
    else table(ctx.term, ['table', 'rows', 'expired'], adopted.map((a) => [a.table, a.rows, a.expired]));
  } finally {
    db.close();
  }
  return 0;
}

/** `vacuum` and `checkpoint`: SQLite file upkeep, on a connection of the library's settings. */
export async function fileUpkeep(ctx: Context, what: 'vacuum' | 'checkpoint'): Promise<ExitCode> {
  if (ctx.target.engine !== 'sqlite') throw new Refused(`${what} applies to a SQLite file; a server keeps its own files`);
  const { KVDatabase } = loadSync();
  const db = new KVDatabase(ctx.target.source);
  try {
    const result = what === 'vacuum' ? db.vacuum() : db.checkpoint();
    if (ctx.json) json(ctx.term, result);
    else line(ctx.term, `${what}: ${JSON.stringify(result)}`);
  } finally {
    db.close();
  }
  return 0;
}

/** The sync SQLite entry (the package root, beside this bundle), for what only it does. */
function loadSync(): { KVDatabase: typeof KVDatabase } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(__dirname, 'index.cjs')) as { KVDatabase: typeof KVDatabase };
}
