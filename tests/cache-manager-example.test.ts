import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KVDatabase } from '../src';
import { keyvSerializer } from '../src/keyv';
import { builtEntry, root } from './built';
import { integrity, tempDb } from './helpers';

describe('examples/cache-manager.mjs (cache-manager 7 on Keyv on drizzle-kv/keyv)', () => {
  it('runs set/get/ttl/wrap/mset/mget/del/clear, with a second process sharing the file, and again on the same file', () => {
    builtEntry();
    if (!existsSync(join(root, 'dist/keyv.cjs'))) throw new Error('dist/keyv.cjs is missing: run the tests with `npm test`, which builds first');
    const path = tempDb('cache-manager.db');
    const run = () => execFileSync(process.execPath, [join(root, 'examples/cache-manager.mjs'), path], { encoding: 'utf8' });
    for (let i = 0; i < 2; i++) {
      const lines = Object.fromEntries(
        run()
          .trim()
          .split('\n')
          .map((line) => {
            const [, label, value] = /^(.*?)\s{2,}(\S.*)$/.exec(line) ?? /^(.*?) (\S+)$/.exec(line) ?? [];
            return [label, value];
          }),
      );
      expect(lines).toEqual({
        'get("user:1")': '{"name":"Alice"}',
        'ttl("user:1") - now, in ms': '10000',
        'get("nobody")': 'undefined',
        'wrap("report")': '"report #1"',
        'wrap("report") again': '"report #1"',
        'times computed': '1',
        'mget(["a", "b", "c"])': '[1,2,null]',
        'get("a") after del': 'undefined',
        'child: get("user:1")': '{"name":"Alice"}',
        // The child finds the parent's cached result: it does not compute it again.
        'child: wrap("report") computed': '"report #1"',
        'get("from-child")': '{"pid":true}',
        'mget after clear': '[null,null,null,null]',
      });
    }
    using db = new KVDatabase(path);
    expect(db.stores().map((s) => [s.name, s.serializer])).toEqual([['keyv', 'keyv']]);
    expect(db.store('keyv', { serializer: keyvSerializer }).keys()).toEqual([]);
    expect(integrity(path)).toBe('ok');
  });
});
