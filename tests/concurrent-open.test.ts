import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { KVDatabase, KVStore } from '../src';
import { builtEntry } from './built';
import { nextLine } from './child-lines';
import { integrity, tempDb } from './helpers';

const PROCESSES = 8;
const ROUNDS = 10;

/** Starts `PROCESSES` children, waits until all are loaded, then releases them at the same moment. */
async function race(path: string, table: string): Promise<string[]> {
  const children = Array.from({ length: PROCESSES }, () =>
    spawn(process.execPath, [join(__dirname, 'children/open-and-write.cjs'), path, table], {
      env: { ...process.env, DRIZZLE_KV_ENTRY: builtEntry() },
    }),
  );
  const ready = await Promise.all(children.map(nextLine));
  expect(ready).toEqual(Array(PROCESSES).fill('ready'));
  const answers = children.map(nextLine);
  for (const child of children) child.stdin.end('go\n');
  const lines = await Promise.all(answers);
  await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
  return lines;
}

describe('many processes opening one fresh file at the same moment', () => {
  it(`creates the store exactly once, with no error, over ${ROUNDS} rounds of ${PROCESSES} processes`, async () => {
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const path = tempDb(`race-${round}.db`);
      const lines = await race(path, 'race');
      failures.push(...lines.filter((line) => line !== 'ok'));
      using store = new KVStore(path, 'race');
      expect(store.get('opens')).toBe(PROCESSES); // every process's incr counted
      expect(store.keys({ prefix: 'pid:' })).toHaveLength(PROCESSES);
      using db = new KVDatabase(path);
      expect(db.stores().map((s) => s.name)).toEqual(['race']);
      expect(integrity(path)).toBe('ok');
    }
    expect(failures).toEqual([]);
  });
});
