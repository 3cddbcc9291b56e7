/**
 * Property test, per backend: random sequences of operations run against a
 * fresh store of the backend (on a FakeClock) and against a Map model of
 * what the README promises; every result is compared, then the whole state.
 *
 * Deterministic: a fixed seed, so CI runs the same sequences every time; on
 * a failure fast-check prints the shrunk sequence and the seed to replay it.
 *
 * Runs per backend (each run opens a fresh store: a file, or a schema):
 * 200 on the SQLite file engines, which cost microseconds per operation;
 * 30 on servers (PostgreSQL, sqld), which cost 0.1–2 ms per operation and
 * tens of milliseconds per fresh store.
 */
import * as fc from 'fast-check';
import type { Ttl } from '../../src';
import { FakeClock } from '../helpers';
import type { Backend, BackendName, ContractStore } from './backends';
import { byCodePoint } from './store-contract';
import { collect, runTransaction } from './support';

export const MODEL_RUNS: Readonly<Record<BackendName, number>> = {
  'sqlite-sync': 200,
  'sqlite-memory': 50,
  'sqlite-database': 50,
  'sqlite-async': 200,
  'libsql-file': 200,
  pg: 30,
  'libsql-sqld': 30,
};

const SEED = 20_261_128;

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
  | { op: 'transaction'; key: string; value: unknown; fail: boolean }
  | { op: 'advance'; ms: number };

// Counters: a few keys, so that increments meet the TTLs set and touched on them.
const COUNTERS = ['a', 'b', '😀'];
// Keys chosen to collide on purpose: prefixes of each other, NUL (refused where the backend declares no
// nulInKeys), code points on both sides of the surrogate block (UTF-16 and UTF-8 order them differently)
// and the highest code point.
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
  { weight: 1, arbitrary: fc.record({ op: fc.constant('transaction' as const), key, value, fail: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.oneof(fc.constantFrom(1, 499, 500, 1000, 2000), fc.integer({ min: 0, max: 3000 })) }) },
);

interface Row {
  value: unknown;
  expiresAt: number | null;
}

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
  liveItems(p: string): [string, unknown][] {
    return this.liveKeys(p).map((k) => [k, this.live(k)?.value]);
  }
  expiredKeys(): string[] {
    return [...this.rows.keys()].filter((k) => !this.live(k));
  }
}

/** A value as the JSON serializer gives it back: -0 is 0, undefined properties are dropped. */
const asStored = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

const MISSING = Symbol('missing');

async function code(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** Every key and prefix an operation names: where the backend refuses U+0000 in keys, one of them makes it ERR_KV_INVALID_KEY. */
function keysOf(o: Op): string[] {
  switch (o.op) {
    case 'keys':
    case 'items':
    case 'entries':
      return [o.prefix];
    case 'clear':
      return o.prefix === undefined ? [] : [o.prefix];
    case 'setMany':
      return o.entries.map(([k]) => k);
    case 'getMany':
      return o.keys;
    case 'size':
    case 'purgeExpired':
    case 'advance':
      return [];
    default:
      return [o.key];
  }
}

/** Runs one operation on both, and checks that they agree. */
async function step(backend: Backend, store: ContractStore, model: Model, clock: FakeClock, o: Op): Promise<void> {
  if (backend.differences.nulInKeys || !keysOf(o).some((k) => k.includes('\u0000'))) return apply(backend, store, model, clock, o);
  // Declared: this engine cannot hold U+0000 in a key. The call is refused before it changes anything
  // (apply() updates the model only after the store's call succeeded).
  const refused = async (): Promise<unknown> => {
    switch (o.op) {
      case 'setInvalid':
        return store.set(o.key, { bad: NaN });
      case 'transaction':
        return runTransaction(backend, store, function* (s) {
          yield s.set(o.key, o.value);
        });
      default:
        return apply(backend, store, model, clock, o);
    }
  };
  const where = JSON.stringify(o, (_k, v: unknown) => (v === undefined ? '<undefined>' : v));
  expect([where, await code(refused)]).toEqual([where, 'ERR_KV_INVALID_KEY']);
}

/** Runs one operation on the store and the model, comparing the store's results with the model's. */
async function apply(backend: Backend, store: ContractStore, model: Model, clock: FakeClock, o: Op): Promise<void> {
  const where = JSON.stringify(o, (_k, v: unknown) => (v === undefined ? '<undefined>' : v));
  const same = (actual: unknown, expected: unknown) => expect([where, actual]).toEqual([where, expected]);
  switch (o.op) {
    case 'set':
      await store.set(o.key, o.value, o.ttl);
      model.rows.set(o.key, { value: asStored(o.value), expiresAt: model.expiry(o.ttl) });
      return;
    case 'setInvalid':
      same(await code(() => store.set(o.key, { bad: NaN })), 'ERR_KV_INVALID_VALUE');
      return;
    case 'get':
      same(await store.get(o.key, MISSING), model.live(o.key) ? model.live(o.key)?.value : MISSING);
      return;
    case 'has':
      same(await store.has(o.key), model.live(o.key) !== undefined);
      return;
    case 'delete':
      same(await store.delete(o.key), model.live(o.key) !== undefined);
      model.rows.delete(o.key);
      return;
    case 'add': {
      const absent = model.live(o.key) === undefined;
      same(await store.add(o.key, o.value, o.ttl), absent);
      if (absent) model.rows.set(o.key, { value: asStored(o.value), expiresAt: model.expiry(o.ttl) });
      return;
    }
    case 'incr': {
      const row = model.live(o.key);
      if (row && typeof row.value !== 'number') {
        same(await code(() => store.incr(o.key, o.by)), 'ERR_KV_NOT_A_NUMBER');
        return;
      }
      const current = (row?.value as number | undefined) ?? 0;
      const next = current + o.by;
      if (Number.isInteger(current) && !Number.isSafeInteger(next)) {
        same(await code(() => store.incr(o.key, o.by)), 'ERR_KV_INVALID_ARGUMENT');
        return;
      }
      same(await store.incr(o.key, o.by), next);
      model.rows.set(o.key, { value: next, expiresAt: row ? row.expiresAt : null });
      return;
    }
    case 'pop': {
      const row = model.live(o.key);
      same(await store.pop(o.key, MISSING), row ? row.value : MISSING);
      model.rows.delete(o.key);
      return;
    }
    case 'touch': {
      const row = model.live(o.key);
      same(await store.touch(o.key, o.ttl), row !== undefined);
      if (row) row.expiresAt = model.expiry(o.ttl);
      return;
    }
    case 'ttl': {
      const row = model.live(o.key);
      same(await store.ttl(o.key), row === undefined ? undefined : row.expiresAt === null ? Infinity : (row.expiresAt - clock.now()) / 1000);
      return;
    }
    case 'keys':
      same(await store.keys({ prefix: o.prefix }), model.liveKeys(o.prefix));
      return;
    case 'items':
      same(await store.items({ prefix: o.prefix }), model.liveItems(o.prefix));
      return;
    case 'entries':
      same(await collect(store.entries({ prefix: o.prefix, batchSize: o.batchSize })), model.liveItems(o.prefix));
      return;
    case 'size':
      same(await store.size, model.liveKeys('').length);
      return;
    case 'clear': {
      const p = o.prefix ?? '';
      const all = [...model.rows.keys()].filter((k) => k.startsWith(p));
      const live = all.filter((k) => model.live(k));
      const n = o.prefix === undefined ? await store.clear() : await store.clear({ prefix: o.prefix });
      // Counts rows: every live one, plus those expired rows not culled yet.
      same(n >= live.length && n <= all.length, true);
      for (const k of all) model.rows.delete(k);
      return;
    }
    case 'setMany': {
      await store.setMany(o.entries, o.ttl);
      const expiresAt = model.expiry(o.ttl);
      for (const [k, v] of o.entries) model.rows.set(k, { value: asStored(v), expiresAt });
      return;
    }
    case 'getMany': {
      const expected = new Map<string, unknown>();
      for (const k of o.keys) if (model.live(k)) expected.set(k, model.live(k)?.value);
      same(await store.getMany(o.keys), expected);
      return;
    }
    case 'purgeExpired': {
      const expired = model.expiredKeys();
      const n = await store.purgeExpired();
      same(n <= expired.length, true);
      for (const k of expired) model.rows.delete(k);
      return;
    }
    case 'transaction': {
      const run = () =>
        runTransaction(backend, store, function* (s) {
          yield s.set(o.key, o.value);
          if (o.fail) throw new Error('abort');
          return yield s.get(o.key);
        });
      if (o.fail) {
        same(await code(run), 'Error: abort'); // rolled back: the model is unchanged
        return;
      }
      same(await run(), asStored(o.value));
      model.rows.set(o.key, { value: asStored(o.value), expiresAt: null });
      return;
    }
    case 'advance':
      clock.time += o.ms;
      return;
  }
}

export function describeModelContract(backend: Backend): void {
  const runs = MODEL_RUNS[backend.name];
  describe('model', () => {
    it(`agrees with a Map model on every result over ${runs} random operation sequences (fixed seed)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 50, size: 'max' }), async (ops) => {
          const clock = new FakeClock();
          const model = new Model(clock);
          const store = await backend.openStore({ clock });
          try {
            for (const o of ops) await step(backend, store, model, clock, o);
            // And the whole state agrees at the end.
            expect(await store.items()).toEqual(model.liveItems(''));
          } finally {
            await store.close();
          }
        }),
        { numRuns: runs, seed: SEED },
      );
    }, 300_000);
  });
}
