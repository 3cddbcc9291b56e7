// The json serializer writes in one pass what it checked: each property is read
// once, each toJSON called once, and nothing JSON would drop passes silently.
import fc from 'fast-check';
import { KVStore, jsonSerializer } from '../src';
import { tempDb, thrown, withRaw } from './helpers';

const stored = (path: string, key: string) =>
  withRaw(path, (db) => db.prepare('SELECT value FROM key_value_store WHERE key = ?').pluck().get(key));

describe('json: what was checked is what is written', () => {
  it('reads a getter once, so one that answers differently the second time is stored as it first answered', () => {
    const path = tempDb();
    using store = new KVStore(path);
    let reads = 0;
    const value = {
      get x() {
        return reads++ === 0 ? 1 : NaN;
      },
    };
    store.set('k', value);
    expect(reads).toBe(1);
    expect(stored(path, 'k')).toBe('{"x":1}');
    expect(store.get('k')).toEqual({ x: 1 });
  });

  it('calls toJSON once, so one that answers differently the second time is stored as it first answered', () => {
    const path = tempDb();
    using store = new KVStore(path);
    let calls = 0;
    const value = { when: { toJSON: () => (calls++ === 0 ? { a: 1 } : new Map([[1, 2]])) } };
    store.set('k', value);
    expect(calls).toBe(1);
    expect(store.get('k')).toEqual({ when: { a: 1 } });
  });

  it('refuses a getter whose one answer JSON would change', () => {
    using store = new KVStore(tempDb());
    const err = thrown(() =>
      store.set('k', {
        get x() {
          return NaN;
        },
      }),
    );
    expect(err.code).toBe('ERR_KV_INVALID_VALUE');
    expect(err.message).toContain('value.x');
    expect(store.has('k')).toBe(false);
  });

  it('writes what JSON.stringify writes for every value it accepts', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonSerializer.serialize(value)).toBe(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });
});

describe('json: nothing is dropped silently', () => {
  const symbolKeyed = Object.assign({ a: 1 }, { [Symbol('tag')]: 2 });
  const hidden = Object.defineProperty({ a: 1 }, 'secret', { value: 2, enumerable: false });
  const namedOnArray = Object.assign([1, 2], { extra: 3 });
  const symbolOnArray = Object.assign([1], { [Symbol('tag')]: 2 });
  it.each([
    ['a symbol-keyed property', { v: symbolKeyed }, /symbol-keyed property \(Symbol\(tag\)\) at value\.v:/],
    ['a non-enumerable property', hidden, /non-enumerable property "secret"/],
    ['a named property of an array', { list: namedOnArray }, /extra property extra at value\.list:/],
    ['a symbol-keyed property of an array', symbolOnArray, /extra property Symbol\(tag\)/],
    ['a Number object', { n: new Number(1) }, /value\.n/],
    ['toJSON returning undefined', { x: { toJSON: () => undefined } }, /value\.x/],
  ])('refuses %s with ERR_KV_INVALID_VALUE, writing nothing', (_what, value, message) => {
    using store = new KVStore(tempDb());
    store.set('k', 'before');
    const err = thrown(() => store.set('k', value));
    expect(err.code).toBe('ERR_KV_INVALID_VALUE');
    expect(err.message).toMatch(message);
    expect(store.get('k')).toBe('before');
  });

  it('keeps refusing cycles, and accepts the same object twice side by side', () => {
    const shared = { x: 1 };
    expect(jsonSerializer.serialize([shared, shared])).toBe('[{"x":1},{"x":1}]');
    const cycle: unknown[] = [];
    cycle.push({ back: cycle });
    expect(() => jsonSerializer.serialize(cycle)).toThrow(/circular/);
  });
});
