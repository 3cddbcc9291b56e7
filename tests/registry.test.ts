import { KVDatabase, KVStore } from '../src';
import { openConnection } from '../src/sqlite/connection';
import { resolveDatabaseOptions } from '../src/core/options';
import { Registry } from '../src/sqlite/registry';
import { tempDb } from './helpers';

describe('the registry', () => {
  it('probes with hand-written SQL exactly what the typed queries read', () => {
    const path = tempDb();
    new KVStore(path, { table: 'Alpha', serializer: 'v8' }).close();
    new KVStore(path, 'beta').close();
    const conn = openConnection(path, resolveDatabaseOptions());
    const registry = new Registry(conn);
    for (const asked of ['Alpha', 'alpha', 'beta']) {
      expect(registry.probe(asked)).toEqual({ ...registry.find(asked), databaseVersion: registry.databaseVersion() });
    }
    expect(registry.probe('gamma')).toBeUndefined();
    conn.close();
  });

  it('probes a file without bookkeeping as nothing, without failing', () => {
    using db = new KVDatabase(tempDb());
    const conn = openConnection(db.path, resolveDatabaseOptions());
    expect(new Registry(conn).probe('any')).toBeUndefined();
    expect(new Registry(conn).databaseVersion()).toBe(0);
    conn.close();
  });
});
