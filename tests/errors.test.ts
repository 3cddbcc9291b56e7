// One check catches every error of the library.
import { KVDatabase, KVError, KVRangeError, KVStore, KVTypeError, type Serializer, isKVError } from '../src';
import type * as errors from '../src/core/errors';
import { tempDb, thrown } from './helpers';

describe('instanceof KVError', () => {
  it('holds for every error class of the library, which keep their own built-in kinds', () => {
    const store = new KVStore(tempDb());
    const typeError = thrown(() => store.set(42 as unknown as string, 1));
    const rangeError = thrown(() => store.set('k', 1, -1));
    store.close();
    const closed = thrown(() => store.get('k'));
    expect(typeError).toBeInstanceOf(KVTypeError);
    expect(typeError).toBeInstanceOf(TypeError);
    expect(rangeError).toBeInstanceOf(KVRangeError);
    expect(rangeError).toBeInstanceOf(RangeError);
    for (const err of [typeError, rangeError, closed]) {
      expect(err).toBeInstanceOf(KVError);
      expect(isKVError(err)).toBe(true);
    }
    // A subclass check stays a subclass check.
    expect(closed).not.toBeInstanceOf(KVTypeError);
    expect(typeError).not.toBeInstanceOf(KVRangeError);
  });

  it('does not hold for other errors, whatever they carry', () => {
    const lookalike = Object.assign(new Error('x'), { code: 'ERR_KV_CLOSED', name: 'KVError' });
    for (const err of [lookalike, new TypeError('x'), null, undefined, 'ERR_KV_CLOSED', { code: 'ERR_KV_BUSY' }]) {
      expect(err instanceof KVError).toBe(false);
      expect(isKVError(err)).toBe(false);
    }
  });

  it('recognises an error thrown by another installed copy of the library', () => {
    jest.isolateModules(() => {
      const other = require('../src/core/errors') as typeof errors;
      expect(other.KVError).not.toBe(KVError);
      const err = new other.KVTypeError('ERR_KV_INVALID_KEY', 'from the other copy');
      expect(err instanceof KVError).toBe(true);
      expect(isKVError(err)).toBe(true);
    });
  });
});

describe('store names', () => {
  it.each(['__drizzle_migrations', '__DRIZZLE_MIGRATIONS', '_prisma_migrations', 'knex_migrations', 'kysely_migration', 'SequelizeMeta', 'schema_migrations'])(
    'refuses %s, another tool’s bookkeeping table, before touching the file',
    (name) => {
      const path = tempDb();
      const err = thrown(() => new KVStore(path, name));
      expect(err.code).toBe('ERR_KV_INVALID_NAME');
      expect(err.message).toMatch(/migration bookkeeping/);
      const db = new KVDatabase(path);
      expect(thrown(() => db.store(name)).code).toBe('ERR_KV_INVALID_NAME');
      db.close();
    },
  );

  it('accepts names that only resemble them', () => {
    const db = new KVDatabase(tempDb());
    for (const name of ['drizzle_migrations_cache', 'migrations', 'prisma_migrations_x']) db.store(name).set('k', 1);
    expect(db.stores().map((s) => s.name)).toEqual(['drizzle_migrations_cache', 'migrations', 'prisma_migrations_x']);
    db.close();
  });
});

describe('what SQLite cannot hold', () => {
  it('refuses a value over SQLite’s 1,000,000,000-byte limit with ERR_KV_INVALID_VALUE, writing nothing', () => {
    const huge = Buffer.allocUnsafe(1_000_000_001);
    const passThrough: Serializer = { name: 'bytes', serialize: (v) => v as Buffer, deserialize: (d) => d };
    const store = new KVStore(tempDb(), { serializer: passThrough });
    store.set('k', Buffer.from('before'));
    for (const write of [() => store.set('k', huge), () => store.add('new', huge), () => store.setMany([['a', Buffer.from('a')], ['k', huge]])]) {
      const err = thrown(write);
      expect(err).toBeInstanceOf(KVRangeError);
      expect(err.code).toBe('ERR_KV_INVALID_VALUE');
      expect(err.message).toMatch(/larger than SQLite's limit of 1,000,000,000 bytes/);
      expect((err.cause as Error).name).toBe('RangeError');
    }
    expect(store.keys()).toEqual(['k']);
    expect(Buffer.from(store.get('k') as Uint8Array).toString()).toBe('before');
    store.close();
  });
});
