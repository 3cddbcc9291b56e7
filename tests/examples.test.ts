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
    expect(run()).toMatch(/runs of this demo \(incr\)\s+1\n/);
    expect(run()).toMatch(/runs of this demo \(incr\)\s+2\n/);
    using db = new KVDatabase(path);
    expect(db.stores().map((s) => s.name)).toEqual(['events', 'key_value_store', 'preferences']);
    expect(integrity(path)).toBe('ok');
  });
});
