// Many processes (and worker threads) doing a random mix of operations on
// one file through the built package, as CLI tools do. Each child keeps a
// model of the keys only it writes and reports what it acknowledged; the file
// must hold exactly that afterwards, the shared counter must be exact, and no
// error may reach any caller.
import { join } from 'node:path';
import { KVStore } from '../../src';
import { builtEntry } from '../built';
import { tempDb, withRaw } from '../helpers';

interface MixReport {
  id: number;
  ops: number;
  incr: number;
  acked: Record<string, unknown>;
  counts: Record<string, number>;
}

interface MixCheck {
  operations: number;
  acknowledged: number;
  errors: unknown[];
  mismatches: unknown[];
  lost: unknown[];
  extra: string[];
  counter: { expected: number; actual: number };
  raceProblems: unknown[];
  missingReports: number;
  integrity: string;
}

interface Harness {
  runMix(options: { entry: string; path: string; processes: number; ops: number; seed?: number; threads?: boolean }): Promise<{
    reports: MixReport[];
    ms: number;
  }>;
  checkMix(options: { entry: string; path: string; reports: MixReport[]; processes: number }): MixCheck;
}

const harness = require(join(__dirname, '../children/harness.cjs')) as Harness;

const OPERATIONS = ['set', 'get', 'incr', 'add', 'add-race', 'delete', 'pop', 'setMany', 'getMany', 'set-ttl', 'purgeExpired', 'transaction', 'pool-add', 'pool-pop'];

async function mixAndCheck(processes: number, ops: number, threads: boolean, seed: number, path = tempDb(`mix-${seed}.db`)): Promise<MixCheck> {
  const entry = builtEntry();
  const { reports } = await harness.runMix({ entry, path, processes, ops, seed, threads });
  const check = harness.checkMix({ entry, path, reports, processes });
  // The mix really exercised every operation, in every child.
  for (const report of reports) {
    for (const op of OPERATIONS) expect([report.id, op, report.counts[op] ?? 0]).not.toEqual([report.id, op, 0]);
  }
  return check;
}

function expectConsistent(check: MixCheck, processes: number, ops: number): void {
  expect(check.errors).toEqual([]); // no error reached any caller (ERR_KV_BUSY included)
  expect(check.mismatches).toEqual([]); // every read of a child's own keys returned its last write
  expect(check.missingReports).toBe(0);
  expect(check.operations).toBe(processes * ops);
  expect(check.counter.actual).toBe(check.counter.expected); // no lost increment
  expect(check.counter.expected).toBeGreaterThan(processes * ops * 0.1);
  expect(check.acknowledged).toBeGreaterThan(processes * 50);
  expect(check.lost).toEqual([]); // every acknowledged write is there
  expect(check.extra).toEqual([]); // and nothing deleted came back
  expect(check.raceProblems).toEqual([]); // each contested add won exactly once; no pooled value popped twice or lost
  expect(check.integrity).toBe('ok');
}

describe('many writers on one file', () => {
  it('8 processes × 1000 mixed operations: no error, no lost write, exact counter, intact file', async () => {
    const check = await mixAndCheck(8, 1000, false, 1);
    expectConsistent(check, 8, 1000);
  });

  it('8 processes × 1000 operations on a file already holding entries, some of them expired', async () => {
    const path = tempDb('prefilled.db');
    const before = new KVStore(path, 'mix');
    before.setMany(Array.from({ length: 3000 }, (_, i) => [`pre:${i}`, { i }] as const));
    before.setMany(Array.from({ length: 2000 }, (_, i) => [`pre:expiring:${i}`, i] as const), 0.001);
    before.close();
    const check = await mixAndCheck(8, 1000, false, 2, path);
    expectConsistent(check, 8, 1000);
    using after = new KVStore(path, 'mix');
    expect(after.keys({ prefix: 'pre:' })).toHaveLength(3000);
    expect(after.get('pre:2999')).toEqual({ i: 2999 });
    // The children's purgeExpired calls reclaimed the expired rows.
    expect(withRaw(path, (db) => db.prepare("SELECT count(*) FROM mix WHERE key LIKE 'pre:expiring:%'").pluck().get())).toBe(0);
  });

  it('8 worker threads × 600 operations, each with its own connection: the same guarantees', async () => {
    const check = await mixAndCheck(8, 600, true, 3);
    expectConsistent(check, 8, 600);
  });
});
