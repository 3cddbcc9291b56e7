// Property test: random sequences of operations, run against a real store
// (a file in a temp folder, with a fake clock) and against a Map model of
// what the README promises. Every result is compared. Deterministic: a fixed
// seed, so CI runs the same 200 sequences every time; on a failure
// fast-check prints the shrunk sequence and the seed to replay it.
import { join } from 'node:path';
import * as fc from 'fast-check';
import { KVStore } from '../../src';
import { FakeClock, tempDir } from '../helpers';

type Ttl = number | null | undefined;

type Op =
  | { op: 'set'; key: string; value: unknown; ttl: Ttl }
  | { op: 'setInvalid'; key: string }
  | { op: 'get'; key: string }
  | { op: 'has'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'add'; key: string; value: unknown; ttl: Ttl }
  | { op: 'incr'; key: string; by: number }
  | { op: 'pop'; key: string }
  | { op: 'touch'; key: string; ttl: Ttl }
  | { op: 'ttl'; key: string }
  | { op: 'keys'; prefix: string }
  | { op: 'items'; prefix: string }
  | { op: 'entries'; prefix: string; batchSize: number }
  | { op: 'size' }
  | { op: 'clear'; prefix: string | undefined }
  | { op: 'setMany'; entries: [string, unknown][]; ttl: Ttl }
  | { op: 'getMany'; keys: string[] }
  | { op: 'purgeExpired' }
  | { op: 'transaction'; key: string; value: unknown; counter: string; fail: boolean }
  | { op: 'advance'; ms: number };

// Counters: a few keys, so that increments meet the TTLs set and touched on them.
const COUNTERS = ['a', 'b', '😀'];
// Keys chosen to collide on purpose: prefixes of each other, NUL, code points on both sides of
// the surrogate block (UTF-16 and UTF-8 order them differently) and the highest code point.
const KEYS = ['', 'a', 'a:1', 'a:2', 'ab', 'a\u0000', 'b', 'é', '\uffff', '😀', 'z\u{10ffff}', 'z\u{10ffff}x'];
const PREFIXES = ['', 'a', 'a:', 'a\u0000', 'b', '\uffff', '😀', 'z', 'z\u{10ffff}', 'zz'];

// Mostly a few hot keys, so that operations meet each other's effects within a short sequence.
const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...COUNTERS) }, { weight: 2, arbitrary: fc.constantFrom(...KEYS) });
const prefix = fc.constantFrom(...PREFIXES);
const value = fc.oneof(
  fc.integer({ min: -100, max: 100 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 5 }),
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.record({ a: fc.integer(), b: fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }) }),
);
const ttl: fc.Arbitrary<Ttl> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constant(Infinity) },
  { weight: 4, arbitrary: fc.constantFrom(0.0004, 0.001, 0.5, 1, 1.0004, 1.0005, 2, 10) },
);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key, value, ttl }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setInvalid' as const), key }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('has' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), key, value, ttl }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('incr' as const), key: fc.constantFrom(...COUNTERS), by: fc.integer({ min: -5, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('pop' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('touch' as const), key, ttl }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ttl' as const), key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('keys' as const), prefix }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('items' as const), prefix }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('entries' as const), prefix, batchSize: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('size' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const), prefix: fc.option(prefix, { nil: undefined }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('setMany' as const), entries: fc.array(fc.tuple(key, value), { maxLength: 4 }), ttl }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('purgeExpired' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('transaction' as const), key, value, counter: key, fail: fc.boolean() }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.oneof(fc.constantFrom(1, 499, 500, 1000, 2000), fc.integer({ min: 0, max: 3000 })) }) },
);

interface Row {
  value: unknown;
  expiresAt: number | null;
}

/** UTF-8 byte order, which is code point order: the order SQLite's BINARY collation gives keys. */
const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** What the README promises, on a Map: TTLs as absolute expiries, expired rows invisible (and still there until removed). */
class Model {
  readonly rows = new Map<string, Row>();
  constructor(private readonly clock: FakeClock) {}

  expiry(t: Ttl): number | null {
    return t === undefined || t === null || t === Infinity ? null : this.clock.now() + Math.ceil(t * 1000);
  }
  live(k: string): Row | undefined {
    const row = this.rows.get(k);
    return row && (row.expiresAt === null || row.expiresAt > this.clock.now()) ? row : undefined;
  }
  liveKeys(p: string): string[] {
    return [...this.rows.keys()].filter((k) => k.startsWith(p) && this.live(k)).sort(byCodePoint);
  }
  expiredKeys(): string[] {
    return [...this.rows.keys()].filter((k) => !this.live(k));
  }
}

/** A value as the JSON serializer gives it back: -0 is 0, undefined properties are dropped. */
const asStored = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

const MISSING = Symbol('missing');

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** Runs one operation on both, and checks that they agree. */
function step(store: KVStore, model: Model, clock: FakeClock, o: Op): void {
  const where = JSON.stringify(o, (_k, v: unknown) => (v === undefined ? '<undefined>' : v));
  const same = (actual: unknown, expected: unknown) => expect([where, actual]).toEqual([where, expected]);
  switch (o.op) {
    case 'set':
      store.set(o.key, o.value, o.ttl);
      model.rows.set(o.key, { value: asStored(o.value), expiresAt: model.expiry(o.ttl) });
      return;
    case 'setInvalid':
      same(code(() => store.set(o.key, { bad: NaN })), 'ERR_KV_INVALID_VALUE');
      return;
    case 'get':
      same(store.get(o.key, MISSING), model.live(o.key) ? model.live(o.key)?.value : MISSING);
      return;
    case 'has':
      same(store.has(o.key), model.live(o.key) !== undefined);
      return;
    case 'delete': {
      same(store.delete(o.key), model.live(o.key) !== undefined);
      model.rows.delete(o.key);
      return;
    }
    case 'add': {
      const absent = model.live(o.key) === undefined;
      same(store.add(o.key, o.value, o.ttl), absent);
      if (absent) model.rows.set(o.key, { value: asStored(o.value), expiresAt: model.expiry(o.ttl) });
      return;
    }
    case 'incr': {
      const row = model.live(o.key);
      if (row && typeof row.value !== 'number') {
        same(code(() => store.incr(o.key, o.by)), 'ERR_KV_NOT_A_NUMBER');
        return;
      }
      const current = (row?.value as number | undefined) ?? 0;
      const next = current + o.by;
      if (Number.isInteger(current) && !Number.isSafeInteger(next)) {
        same(code(() => store.incr(o.key, o.by)), 'ERR_KV_INVALID_ARGUMENT');
        return;
      }
      same(store.incr(o.key, o.by), next);
      model.rows.set(o.key, { value: next, expiresAt: row ? row.expiresAt : null });
      return;
    }
    case 'pop': {
      const row = model.live(o.key);
      same(store.pop(o.key, MISSING), row ? row.value : MISSING);
      model.rows.delete(o.key);
      return;
    }
    case 'touch': {
      const row = model.live(o.key);
      same(store.touch(o.key, o.ttl), row !== undefined);
      if (row) row.expiresAt = model.expiry(o.ttl);
      return;
    }
    case 'ttl': {
      const row = model.live(o.key);
      same(store.ttl(o.key), row === undefined ? undefined : row.expiresAt === null ? Infinity : (row.expiresAt - clock.now()) / 1000);
      return;
    }
    case 'keys':
      same(store.keys({ prefix: o.prefix }), model.liveKeys(o.prefix));
      return;
    case 'items':
      same(store.items({ prefix: o.prefix }), model.liveKeys(o.prefix).map((k) => [k, model.live(k)?.value]));
      return;
    case 'entries':
      same([...store.entries({ prefix: o.prefix, batchSize: o.batchSize })], model.liveKeys(o.prefix).map((k) => [k, model.live(k)?.value]));
      return;
    case 'size':
      same(store.size, model.liveKeys('').length);
      return;
    case 'clear': {
      const p = o.prefix ?? '';
      const all = [...model.rows.keys()].filter((k) => k.startsWith(p));
      const live = all.filter((k) => model.live(k));
      const n = o.prefix === undefined ? store.clear() : store.clear({ prefix: o.prefix });
      // Counts rows: every live one, plus those expired rows not culled yet.
      same(n >= live.length && n <= all.length, true);
      for (const k of all) model.rows.delete(k);
      return;
    }
    case 'setMany': {
      store.setMany(o.entries, o.ttl);
      const expiresAt = model.expiry(o.ttl);
      for (const [k, v] of o.entries) model.rows.set(k, { value: asStored(v), expiresAt });
      return;
    }
    case 'getMany': {
      const expected = new Map<string, unknown>();
      for (const k of o.keys) if (model.live(k)) expected.set(k, model.live(k)?.value);
      same(store.getMany(o.keys), expected);
      return;
    }
    case 'purgeExpired': {
      const expired = model.expiredKeys();
      const n = store.purgeExpired();
      same(n <= expired.length, true);
      for (const k of expired) model.rows.delete(k);
      return;
    }
    case 'transaction': {
      const run = () =>
        store.transaction((s) => {
          s.set(o.key, o.value);
          if (o.fail) throw new Error('abort');
          return s.get(o.key);
        });
      if (o.fail) {
        same(code(run), 'Error: abort'); // rolled back: the model is unchanged
        return;
      }
      same(run(), asStored(o.value));
      model.rows.set(o.key, { value: asStored(o.value), expiresAt: null });
      return;
    }
    case 'advance':
      clock.time += o.ms;
      return;
  }
}

describe('a store behaves like its model', () => {
  it('agrees on every result over 200 random operation sequences (fixed seed)', () => {
    const dir = tempDir();
    let run = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 50, size: 'max' }), (ops) => {
        const clock = new FakeClock();
        const model = new Model(clock);
        const store = new KVStore(join(dir, `model-${run++}.db`), { clock });
        try {
          for (const o of ops) step(store, model, clock, o);
          // And the whole state agrees at the end.
          expect(store.items()).toEqual(model.liveKeys('').map((k) => [k, model.live(k)?.value]));
        } finally {
          store.close();
        }
      }),
      { numRuns: 200, seed: 20_261_128 },
    );
  });
});
