// What an app is told when the driver is missing or unusable, or when it
// passes a connection drizzle-kv cannot use: the cause and the fix, not the
// loader's words under an error that suggests checking the path.
import { execFileSync } from 'node:child_process';
import { KVDatabase, KVStore } from '../src';
import { childRuntime } from './child-runtime';
import { thrown } from './helpers';

function openIn(dir: string): { code: string; message: string; loaded: boolean } {
  const script = `
    const { KVStore } = require('./index.cjs');
    try { new KVStore('x.db'); console.log(JSON.stringify({ code: 'none' })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, loaded: true })); }`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' })) as ReturnType<typeof openIn>;
}

describe('the driver', () => {
  it('not installed: the package still loads; opening a file says to install better-sqlite3', () => {
    const out = openIn(childRuntime('none'));
    expect(out.code).toBe('ERR_KV_NO_DRIVER');
    expect(out.message).toContain('npm install better-sqlite3');
  });

  it('installed without its native addon: opening a file says to rebuild it', () => {
    const out = openIn(childRuntime('unbuilt'));
    expect(out.code).toBe('ERR_KV_NO_DRIVER');
    expect(out.message).toMatch(/native addon is not built for this Node\.js \(v\d+.*npm rebuild better-sqlite3/);
  });
});

describe('a connection drizzle-kv cannot use', () => {
  it.each([
    ['a Drizzle database on another driver', { $client: new (class Pool {})() }, /a Drizzle database on another driver \(its client is a Pool\)/],
    ['a plain object', { path: 'x.db' }, /got an object/],
    ['a number', 42, /got 42/],
  ])('refuses %s, naming what it got and what it accepts', (_what, source, got) => {
    for (const open of [() => new KVStore(source as never), () => new KVDatabase(source as never)]) {
      const err = thrown(open);
      expect(err.code).toBe('ERR_KV_INVALID_ARGUMENT');
      expect(err.message).toMatch(/expected a database file path, a better-sqlite3 Database or a Drizzle database made on one/);
      expect(err.message).toMatch(got);
    }
  });
});
