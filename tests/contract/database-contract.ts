/**
 * The behaviour every database (many named stores in one file or schema)
 * must have. Store names are fresh per test and share a per-test base, so
 * the checks look only at the test's own stores: on sqld the database is
 * the server's one, shared by every test.
 */
import { FakeClock } from '../helpers';
import { type Backend, type ContractDatabase, type ContractStore, freshName } from './backends';
import { codeOf, runDatabaseTransaction } from './support';

export function describeDatabaseContract(backend: Backend): void {
  describe('database contract', () => {
    let clock: FakeClock;
    let db: ContractDatabase;
    /** This test's store names: `${base}_a`, `${base}_b`… */
    let base: string;
    const named = (suffix: string): string => `${base}_${suffix}`;
    const open = async (suffix: string, options: Parameters<ContractDatabase['store']>[1] = {}): Promise<ContractStore> =>
      db.store(named(suffix), { clock, ...options });
    /** The test's own stores as the database lists them, by name. */
    const mine = async () =>
      [...(await db.stores())].filter((s) => s.name.startsWith(`${base}_`)).sort((a, b) => (a.name < b.name ? -1 : 1));

    beforeEach(async () => {
      clock = new FakeClock();
      base = freshName('kvd');
      db = await backend.openDatabase();
    });
    afterEach(async () => {
      await db.close();
    });

    it('lists the stores it opened, with their format version and serializer', async () => {
      await open('a');
      await open('b', { serializer: 'v8' });
      const report = await db.inspect();
      const listed = await mine();
      expect(listed.map((s) => [s.name, s.serializer, s.version])).toEqual([
        [named('a'), 'json', report.supportedStoreVersion],
        [named('b'), 'v8', report.supportedStoreVersion],
      ]);
      for (const s of listed) expect(s.createdAt).toEqual(expect.any(Number));
      // Names are listed once each.
      const all = (await db.stores()).map((s) => s.name);
      expect(new Set(all).size).toBe(all.length);
    });

    it('gives the same open store for the same name and options', async () => {
      const first = await open('a');
      const again = await open('a');
      expect(again).toBe(first);
      await first.set('k', 1);
      expect(await again.get('k')).toBe(1);
    });

    it('keeps stores of different names independent', async () => {
      const a = await open('a');
      const b = await open('b');
      await a.set('k', 'from a');
      await b.set('k', 'from b');
      await b.set('only b', 1);
      expect(await a.get('k')).toBe('from a');
      expect(await a.keys()).toEqual(['k']);
      expect(await a.clear()).toBe(1);
      expect(await a.size).toBe(0);
      expect(await b.items()).toEqual([
        ['k', 'from b'],
        ['only b', 1],
      ]);
      expect(await b.purgeExpired()).toBe(0);
    });

    it('drop() removes a store and closes its handles', async () => {
      const a = await open('a');
      const b = await open('b');
      await a.set('k', 1);
      await b.set('k', 2);
      expect(await db.drop(named('a'))).toBe(true);
      expect(a.closed).toBe(true);
      expect(await codeOf(() => a.get('k'))).toBe('ERR_KV_CLOSED');
      expect(await codeOf(() => a.set('k', 3))).toBe('ERR_KV_CLOSED');
      expect((await mine()).map((s) => s.name)).toEqual([named('b')]);
      expect(await b.get('k')).toBe(2);
      expect(await db.drop(named('a'))).toBe(false);
      expect(await db.drop(named('never'))).toBe(false);
      // The name can be used again: an empty store.
      const again = await open('a');
      expect(await again.size).toBe(0);
    });

    it('inspect() reports the versions, and nothing pending or newer', async () => {
      await open('a');
      const report = await db.inspect();
      expect(report.databaseVersion).toBe(report.supportedDatabaseVersion);
      expect(report.supportedDatabaseVersion).toBeGreaterThan(0);
      expect(report.supportedStoreVersion).toBeGreaterThan(0);
      expect(report.pending).toBe(false);
      expect(report.newer).toBe(false);
      expect(Array.isArray(report.kvCacheTables)).toBe(true);
      const ours = report.stores.filter((s) => s.name.startsWith(`${base}_`));
      expect(ours).toEqual([expect.objectContaining({ name: named('a'), version: report.supportedStoreVersion, serializer: 'json', pending: false, newer: false })]);
    });

    it('migrate() migrates nothing when every store is current', async () => {
      await open('a');
      expect(await db.migrate()).toEqual([]);
      expect((await db.inspect()).pending).toBe(false);
    });

    it('commits a transaction across two stores', async () => {
      const result = await runDatabaseTransaction(
        backend,
        db,
        function* (store) {
          const a = (yield store(named('a'))) as ContractStore;
          const b = (yield store(named('b'))) as ContractStore;
          yield a.set('k', 1);
          yield b.incr('n', 2);
          return [yield a.get('k'), yield b.get('n')];
        },
        { clock },
      );
      expect(result).toEqual([1, 2]);
      expect(await (await open('a')).get('k')).toBe(1);
      expect(await (await open('b')).get('n')).toBe(2);
    });

    it('rolls back a transaction across two stores when it throws', async () => {
      const a = await open('a');
      const b = await open('b');
      await a.set('k', 'before');
      const boom = new Error('boom');
      await expect(
        (async () =>
          runDatabaseTransaction(
            backend,
            db,
            function* (store) {
              const ta = (yield store(named('a'))) as ContractStore;
              const tb = (yield store(named('b'))) as ContractStore;
              yield ta.set('k', 'after');
              yield tb.set('new', 1);
              throw boom;
            },
            { clock },
          ))(),
      ).rejects.toBe(boom);
      expect(await a.get('k')).toBe('before');
      expect(await b.has('new')).toBe(false);
    });

    it('refuses to reopen a store with another serializer: ERR_KV_SERIALIZER_MISMATCH', async () => {
      const a = await open('a');
      await a.set('k', { v: 1 });
      expect(await codeOf(() => open('a', { serializer: 'v8' }))).toBe('ERR_KV_SERIALIZER_MISMATCH');
      // The store is untouched.
      expect(await a.get('k')).toEqual({ v: 1 });
      expect((await mine()).map((s) => s.serializer)).toEqual(['json']);
    });

    it('closing the database closes its stores, and every later call is ERR_KV_CLOSED', async () => {
      const a = await open('a');
      await a.set('k', 1);
      await db.close();
      expect(db.closed).toBe(true);
      await db.close();
      expect(a.closed).toBe(true);
      expect(await codeOf(() => a.get('k'))).toBe('ERR_KV_CLOSED');
      expect(await codeOf(() => db.store(named('b')))).toBe('ERR_KV_CLOSED');
      expect(await codeOf(() => db.stores())).toBe('ERR_KV_CLOSED');
      expect(await codeOf(() => db.drop(named('a')))).toBe('ERR_KV_CLOSED');
    });
  });
}
