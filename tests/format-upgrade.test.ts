/**
 * Files written in every earlier format (tests/fixtures/format-v<N>.db, made by
 * scripts/make-format-fixtures.mjs) upgrade to the current one losing nothing:
 * same keys, same values, same expiries, expired rows still expired.
 */
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KVDatabase, KVStore, STORE_FORMAT_VERSION } from '../src';
import { FakeClock, integrity, tempDb, withRaw } from './helpers';

const { stores, FAR_FUTURE, PAST } = require('./fixtures/format-rows.cjs') as {
  stores: { name: string; serializer: 'json' | 'v8'; rows: { key: string; value: unknown; expiresAt: number | null }[] }[];
  FAR_FUTURE: number;
  PAST: number;
};

const fixtures = readdirSync(join(__dirname, 'fixtures'))
  .filter((f) => /^format-v\d+\.db$/.test(f))
  .sort();

function copyOf(fixture: string): string {
  const path = tempDb(fixture);
  copyFileSync(join(__dirname, 'fixtures', fixture), path);
  return path;
}

interface RawRow {
  key: string;
  value: string | Buffer;
  expires_at: number | null;
  updated_at: number;
  size: number;
}

describe('format upgrades', () => {
  it('has a fixture for every earlier store format', () => {
    expect(fixtures).toEqual(Array.from({ length: STORE_FORMAT_VERSION - 1 }, (_, i) => `format-v${i + 1}.db`));
  });

  describe.each(fixtures)('%s', (fixture) => {
    it('reports what is pending, and migrates every store at once', () => {
      const path = copyOf(fixture);
      const rawBefore = withRaw(path, (db) =>
        Object.fromEntries(stores.map((s) => [s.name, db.prepare(`SELECT key, value, expires_at FROM "${s.name}" ORDER BY key`).all()])),
      );
      using db = new KVDatabase(path);
      const before = db.inspect();
      expect(before.pending).toBe(true);
      expect(before.stores.map((s) => [s.name, s.pending])).toEqual([
        ['binary', true],
        ['key_value_store', true],
      ]);
      expect(db.migrate().sort()).toEqual(['binary', 'key_value_store']);
      const after = db.inspect();
      expect(after.pending).toBe(false);
      expect(after.stores.every((s) => s.version === STORE_FORMAT_VERSION)).toBe(true);
      expect(db.migrate()).toEqual([]);
      db.close();

      withRaw(path, (raw) => {
        for (const store of stores) {
          const rows = raw.prepare(`SELECT key, value, expires_at, updated_at, size FROM "${store.name}" ORDER BY key`).all() as RawRow[];
          // Same keys, byte-identical values, identical expiries.
          expect(rows.map(({ key, value, expires_at }) => ({ key, value, expires_at }))).toEqual(rawBefore[store.name]);
          for (const row of rows) {
            expect(row.size).toBe(Buffer.byteLength(row.key) + Buffer.byteLength(row.value));
            expect(row.updated_at).toBeGreaterThan(0);
          }
        }
      });
      expect(integrity(path)).toBe('ok');
    });

    it.each(stores.map((s) => [s.name, s] as const))('reads back every row of store %s, live or expired as before', (_name, spec) => {
      const path = copyOf(fixture);
      const clock = new FakeClock(Date.UTC(2030, 0, 1));
      expect(clock.now()).toBeGreaterThan(PAST);
      expect(clock.now()).toBeLessThan(FAR_FUTURE);
      using store = new KVStore(path, { table: spec.name, serializer: spec.serializer, clock }); // migrates on open
      for (const row of spec.rows) {
        const live = row.expiresAt === null || row.expiresAt > clock.now();
        expect(store.has(row.key)).toBe(live);
        if (live) {
          expect(store.get(row.key)).toEqual(row.value);
          expect(store.ttl(row.key)).toBe(row.expiresAt === null ? Infinity : (row.expiresAt - clock.now()) / 1000);
        }
      }
      expect(store.keys()).toEqual(spec.rows.filter((r) => r.expiresAt !== PAST).map((r) => r.key).sort());
      expect(store.purgeExpired()).toBe(spec.rows.filter((r) => r.expiresAt === PAST).length);
      using db = new KVDatabase(path);
      // Opening one store migrates that store only.
      expect(db.inspect().stores.filter((s) => s.pending).map((s) => s.name)).toEqual(stores.map((s) => s.name).filter((n) => n !== spec.name));
    });
  });
});
