import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { KVDatabase } from '../src';
import { builtEntry, root } from './built';
import { integrity, tempDb } from './helpers';

describe('examples/demo.mjs', () => {
  it('runs against a fresh file, and again on the same file', () => {
    builtEntry();
    const path = tempDb('demo.db');
    const run = () => execFileSync(process.execPath, [join(root, 'examples/demo.mjs'), path], { encoding: 'utf8' });
    const first = run();
    expect(first).toMatch(/runs of this demo \(incr\)\s+1\n/);
    expect(first).toMatch(/computed \(0 on later runs\)\s+1\n/);
    const second = run();
    expect(second).toMatch(/runs of this demo \(incr\)\s+2\n/);
    expect(second).toMatch(/computed \(0 on later runs\)\s+0\n/);
    using db = new KVDatabase(path);
    expect(db.stores().map((s) => s.name)).toEqual(['events', 'key_value_store', 'memo', 'preferences']);
    expect(integrity(path)).toBe('ok');
  });
});
