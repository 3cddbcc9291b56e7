/**
 * Adopting a file written by kv-cache (Python) 0.3.3 with TZ=UTC: tests/fixtures/python_kvcache_sample.db
 * (28,672 bytes, sha256 7363632d…0051). What every row must read back as is listed below.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVDatabase, KVStore } from '../src';
import { kvCacheExpiry, zoneFormatter } from '../src/sqlite/kv-cache-adoption';
import { builtEntry, root } from './built';
import { FakeClock, integrity, tempDb, thrown, withRaw } from './helpers';

const FIXTURE = join(root, 'tests', 'fixtures', 'python_kvcache_sample.db');
const FIXTURE_SHA256 = '7363632d89179b710c776965662f3d8da7ec9671130493af2fc45cf4f2740051';

/** A copy of the read-only fixture (opening a file writes -wal/-shm files beside it). */
function copyOfFixture(): string {
  const path = tempDb('python.db');
  copyFileSync(FIXTURE, path);
  return path;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Every row of the fixture's key_value_store and what it reads back as. */
const EXPECTED: Record<string, unknown> = {
  no_ttl: { name: 'Alice', tags: ['a', 'b'], nested: { deep: { x: 1.5, ok: true, none: null } } },
  with_ttl: 'valid for ten years',
  unicode_value: 'café 🚀 日本語',
  'ключ-🔑': 'unicode key',
  '': 'empty-string key',
  int: 42,
  float: 0.1,
  false_flag: false,
  null_value: null,
  list_from_tuple: [1, 'two', 3],
  int_dict_keys: { '1': 'a', '2': 'b' },
  big_int: 18446744073709551616n,
  nan: NaN,
  minus_infinity: -Infinity,
  quote_and_newline: 'say "hi"\nbye\t\\',
  ttl_whole_second: 'expires 2036-01-01 00:00:00 exactly',
  '2c61c25e6f92897f9cf8191ed7e24cf8a4a8eb733dd7775a285da63ed78193cf': { sum: 3, c: 'x' },
  '7fb3f8cd97e06fa0d654288f73a5373c8f73593262268dbf909ec5c7049976c4': 'hello café',
};

/** Expiries in UTC, truncated to the millisecond. */
const EXPIRES_UTC: Record<string, number | null> = {
  with_ttl: Date.UTC(2036, 10, 25, 6, 24, 44, 620),
  ttl_whole_second: Date.UTC(2036, 0, 1, 0, 0, 0, 0),
  '7fb3f8cd97e06fa0d654288f73a5373c8f73593262268dbf909ec5c7049976c4': Date.UTC(2036, 10, 25, 6, 24, 44, 621),
  expired: Date.UTC(2026, 10, 28, 5, 24, 44, 621),
};

describe('adopting kv-cache (Python) files', () => {
  it('starts from the fixture exactly as kv-cache wrote it', () => {
    expect(sha256(FIXTURE)).toBe(FIXTURE_SHA256);
  });

  it('refuses to open a kv-cache table without adoption, and leaves the file as it was', () => {
    const path = copyOfFixture();
    const before = sha256(path);
    const err = thrown(() => new KVStore(path));
    expect(err.code).toBe('ERR_KV_LEGACY_TABLE');
    expect(err.message).toContain('adoptKvCache');
    expect(thrown(() => new KVStore(path, { table: 'other_table', readonly: true })).code).toBe('ERR_KV_LEGACY_TABLE');
    using db = new KVDatabase(path);
    expect(db.inspect().kvCacheTables).toEqual(['key_value_store', 'other_table']);
    expect(db.stores()).toEqual([]);
    db.close();
    expect(sha256(path)).toBe(before);
  });

  it('adopts both tables (TZ=UTC), keeping every row as the fixture README says it reads back', () => {
    const path = copyOfFixture();
    using db = new KVDatabase(path);
    const report = db.adoptKvCache({ timeZone: 'UTC' });
    expect(report).toEqual([
      { table: 'key_value_store', rows: 19, expired: 1 },
      { table: 'other_table', rows: 1, expired: 0 },
    ]);
    expect(db.inspect()).toMatchObject({ kvCacheTables: [], pending: false });
    expect(db.stores().map((s) => [s.name, s.serializer])).toEqual([
      ['key_value_store', 'json'],
      ['other_table', 'json'],
    ]);

    const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0)); // the day the fixture was written, after "expired"
    const store = db.store('key_value_store', { clock });
    expect(store.keys().sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [key, value] of Object.entries(EXPECTED)) expect([key, store.get(key)]).toEqual([key, value]);
    expect(store.get('big_int')).toBe(2n ** 64n); // exact, not rounded
    expect(store.get('null_value', 'miss')).toBeNull();
    expect(store.get('expired', 'miss')).toBe('miss');
    expect(db.store('other_table').get('no_ttl')).toBe('same key, other table');

    const rows = withRaw(path, (raw) => raw.prepare('SELECT key, value, expires_at FROM key_value_store').all()) as {
      key: string;
      value: string;
      expires_at: number | null;
    }[];
    for (const row of rows) expect([row.key, row.expires_at]).toEqual([row.key, EXPIRES_UTC[row.key] ?? null]);
    // Values are kept byte for byte, in kv-cache's Python dialect.
    expect(rows.find((r) => r.key === 'nan')?.value).toBe('NaN');
    expect(rows.find((r) => r.key === 'unicode_value')?.value).toBe('"caf\\u00e9 \\ud83d\\ude80 \\u65e5\\u672c\\u8a9e"');
    db.close();
    expect(integrity(path)).toBe('ok');
  });

  it('keeps expired rows expired, and the rest live until their time', () => {
    const path = copyOfFixture();
    new KVDatabase(path).adoptKvCache({ timeZone: 'UTC' });
    const clock = new FakeClock(Date.UTC(2036, 0, 1, 0, 0, 0) - 1);
    using store = new KVStore(path, { clock });
    expect(store.has('expired')).toBe(false);
    expect(store.has('ttl_whole_second')).toBe(true);
    clock.advance(0.001);
    expect(store.has('ttl_whole_second')).toBe(false);
    expect(store.has('with_ttl')).toBe(true);
    expect(store.has('no_ttl')).toBe(true);
  });

  it("reads naive times in the process's zone by default (here TZ=UTC), or in the zone given", () => {
    const path = copyOfFixture();
    const child = `
      const { KVDatabase } = require(${JSON.stringify(builtEntry())});
      new KVDatabase(${JSON.stringify(path)}).adoptKvCache({ tables: ['key_value_store'] });
    `;
    execFileSync(process.execPath, ['-e', child], { env: { ...process.env, TZ: 'UTC' } });
    const utc = withRaw(path, (raw) => raw.prepare("SELECT expires_at FROM key_value_store WHERE key = 'with_ttl'").pluck().get());
    expect(utc).toBe(EXPIRES_UTC['with_ttl']);

    const other = copyOfFixture();
    new KVDatabase(other).adoptKvCache({ timeZone: 'America/New_York' });
    const ny = withRaw(other, (raw) => raw.prepare("SELECT key, expires_at FROM key_value_store WHERE expires_at IS NOT NULL").all()) as {
      key: string;
      expires_at: number;
    }[];
    // November and January: Eastern Standard Time, UTC-5.
    for (const row of ny) expect(row.expires_at).toBe((EXPIRES_UTC[row.key] as number) + 5 * 3600_000);
  });

  it('reads a local time around a daylight-saving change as its earlier instant', () => {
    const ny = zoneFormatter('America/New_York');
    // 01:30 happens twice on 2026-11-01 (EDT, then EST): the EDT one.
    expect(kvCacheExpiry('2026-11-01 01:30:00', ny)).toBe(Date.UTC(2026, 10, 1, 5, 30));
    // 02:30 never happens on 2026-03-08: read as 01:30 EST.
    expect(kvCacheExpiry('2026-03-08 02:30:00', ny)).toBe(Date.UTC(2026, 2, 8, 6, 30));
    expect(kvCacheExpiry('2026-07-01 12:00:00.999999', ny)).toBe(Date.UTC(2026, 6, 1, 16, 0, 0, 999));
    expect(kvCacheExpiry('2026-07-01 12:00:00.05', ny)).toBe(Date.UTC(2026, 6, 1, 16, 0, 0, 50));
    expect(() => kvCacheExpiry('2026-07-01T12:00:00+02:00', ny)).toThrow('not a kv-cache timestamp');
  });

  it('adopts only the tables named, and nothing at all when one row cannot be read', () => {
    const path = copyOfFixture();
    withRaw(path, (raw) => {
      raw.exec('CREATE TABLE broken (key TEXT PRIMARY KEY, value BLOB, expires_at TIMESTAMP)');
      raw.prepare("INSERT INTO broken VALUES ('ok', '1', NULL), ('bad', '{not json', NULL)").run();
    });
    using db = new KVDatabase(path);
    const err = thrown(() => db.adoptKvCache({ timeZone: 'UTC' }));
    expect(err.code).toBe('ERR_KV_DESERIALIZE');
    expect(err.message).toContain('"broken"');
    expect(err.message).toContain('"bad"');
    expect(db.inspect().kvCacheTables).toEqual(['broken', 'key_value_store', 'other_table']);
    expect(db.adoptKvCache({ tables: ['other_table'], timeZone: 'UTC' })).toEqual([{ table: 'other_table', rows: 1, expired: 0 }]);
    expect(db.inspect().kvCacheTables).toEqual(['broken', 'key_value_store']);
  });

  it('refuses a misspelled option or a table named twice, converting nothing', () => {
    const path = copyOfFixture();
    using db = new KVDatabase(path);
    const misspelled = thrown(() => db.adoptKvCache({ table: ['other_table'] } as never));
    expect(misspelled.code).toBe('ERR_KV_INVALID_OPTION');
    expect(misspelled.message).toContain('"table"');
    expect(thrown(() => db.adoptKvCache({ tables: ['other_table', 'OTHER_TABLE'] })).code).toBe('ERR_KV_INVALID_OPTION');
    expect(db.inspect().kvCacheTables).toEqual(['key_value_store', 'other_table']);
    expect(db.stores()).toEqual([]);
  });

  it('refuses a table that is not kv-cache, and an unknown time zone', () => {
    const path = copyOfFixture();
    using db = new KVDatabase(path);
    db.store('mine').set('k', 1);
    expect(thrown(() => db.adoptKvCache({ tables: ['mine'] })).code).toBe('ERR_KV_FOREIGN_TABLE');
    const zone = thrown(() => db.adoptKvCache({ timeZone: 'Mars/Olympus' }));
    expect(zone).toBeInstanceOf(RangeError);
    expect(zone.code).toBe('ERR_KV_INVALID_OPTION');
    expect(db.inspect().kvCacheTables).toEqual(['key_value_store', 'other_table']);
  });

  it('leaves an adopted store fully usable', () => {
    const path = copyOfFixture();
    new KVDatabase(path).adoptKvCache({ timeZone: 'UTC' });
    using store = new KVStore(path);
    store.set('new', { from: 'typescript' });
    expect(store.incr('int')).toBe(43);
    expect(store.get('new')).toEqual({ from: 'typescript' });
    expect(store.get('nan')).toBeNaN();
  });
});
