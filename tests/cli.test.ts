/**
 * The `drizzle-kv` command, run as users run it: the built bin in child
 * processes, on real files and servers, with stdout a pipe (for scripts)
 * and, under `script`, a terminal (the table layout and the progress bar).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVStore } from '../src';
import { root } from './built';
import { tempDb, tempDir } from './helpers';
import { pgSchemas, pgUrl } from './servers';

const BIN = join(root, 'dist/cli.cjs');
const pgIt = pgUrl() === undefined ? it.skip : it;
const schemas = pgSchemas('kvcli');
afterAll(() => schemas.dropAll());

/** Runs the bin; its exit code and both outputs. */
function kv(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, cwd: tempDir() });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** The README's `console` session of the command: each `$ ` line a command, the lines after it its output. */
function readmeSession(): { command: string; output: string }[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /### The `drizzle-kv` command[\s\S]*?```console\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README has no console block under "The `drizzle-kv` command"');
  const steps: { command: string; output: string }[] = [];
  for (const text of block.split('\n')) {
    if (text.startsWith('$ ')) steps.push({ command: text.slice(2), output: '' });
    else if (text !== '' || steps.length > 0) (steps[steps.length - 1] as { output: string }).output += `${text}\n`;
  }
  return steps.map((s) => ({ ...s, output: s.output.replace(/\n+$/, s.output.trim() === '' ? '' : '\n') }));
}

describe('drizzle-kv (the command)', () => {
  it("runs the README's session, printing what it shows", () => {
    const dir = tempDir();
    for (const { command, output } of readmeSession()) {
      const r = spawnSync('bash', ['-c', command.replace(/^drizzle-kv /, `"${process.execPath}" "${BIN}" `)], { cwd: dir, encoding: 'utf8' });
      expect([command, r.status, r.stdout]).toEqual([command, 0, output]);
    }
  });

  it('sets, gets, lists and deletes, with exit codes that say what happened', () => {
    const db = tempDb();
    expect(kv(['set', db, 'user:1', '{"name":"Ann"}', '--ttl', '60', '--tags', 'users,team']).code).toBe(0);
    expect(kv(['set', db, 'n', '42']).code).toBe(0);
    expect(kv(['get', db, 'user:1'])).toMatchObject({ code: 0, out: '{"name":"Ann"}\n' });
    expect(kv(['get', db, 'missing'])).toMatchObject({ code: 1, out: '' });
    expect(JSON.parse(kv(['keys', db, '--json']).out)).toEqual(['n', 'user:1']);
    expect(kv(['keys', db, '--prefix', 'us']).out).toBe('user:1\n');
    expect(kv(['delete', db, 'n']).code).toBe(0);
    expect(kv(['delete', db, 'n']).code).toBe(1);
    // What the command wrote is what the library reads.
    using store = new KVStore(db);
    expect(store.get('user:1')).toEqual({ name: 'Ann' });
    expect(store.tagsOf('user:1')).toEqual(['team', 'users']);
    expect(store.ttl('user:1')).toBeGreaterThan(59);
  });

  it('reports errors in one line, without a stack, and the exit code of each kind', () => {
    const db = tempDb();
    const usage = kv(['get', db]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/^drizzle-kv get: get takes <database> <key>, got 1 argument/);
    expect(kv(['frobnicate', db]).code).toBe(2);
    expect(kv(['get', db, 'k', '--bogus']).code).toBe(2);
    expect(kv(['set', db, 'k', 'not json']).code).toBe(3);
    const missing = kv(['get', join(tempDir(), 'nope.db'), 'k']);
    expect(missing.code).toBe(4);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toMatch(/ERR_KV_CANT_OPEN/);
    expect(kv(['get', join(tempDir(), 'nope.db'), 'k', '--stack']).err).toMatch(/\n\s+at /);
  });

  it('prints aligned tables and plain text to a pipe, JSON with --json, and no escape codes', () => {
    const db = tempDb();
    kv(['set', db, 'a', '1']);
    kv(['set', db, '-s', 'other', 'b', '"x"']);
    const table = kv(['stores', db]).out;
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^store\s+format\s+serializer\s+live\s+expired\s+bytes\s+limits$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/)[0])).toEqual(['key_value_store', 'other']);
    // Columns line up: every row's "live" column ends where the header's does.
    const end = (lines[0] as string).indexOf('live') + 'live'.length;
    for (const l of lines.slice(1)) expect(l.slice(end - 1, end)).toBe('1');
    expect(table.includes('\u001b')).toBe(false);
    const listed = JSON.parse(kv(['stores', db, '--json']).out) as { name: string; live: number }[];
    expect(listed.map((s) => [s.name, s.live])).toEqual([
      ['key_value_store', 1],
      ['other', 1],
    ]);
    expect(JSON.parse(kv(['stats', db, '--json']).out)).toMatchObject({ live: 1, entries: 1, limits: null });
  });

  it('export and import are lossless: JSON and v8 values, bytes, exact expiries, tags; expired lines are skipped', () => {
    const db = tempDb();
    const expiresAt = Date.now() + 3_600_123;
    {
      using json = new KVStore(db);
      json.set('plain', { a: [1, 'é', null] }, { expiresAt, tags: ['t'] });
      json.set('forever', 'x');
      using v8 = new KVStore(db, { table: 'binary', serializer: 'v8' });
      v8.set('bytes', Buffer.from([0, 255, 1]));
      v8.set('map', new Map([[1, new Date(5)]]));
    }
    const file = join(tempDir(), 'out.jsonl');
    expect(kv(['export', db, '--out', file]).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { key: 'forever', value: 'x', expiresAt: null },
      { key: 'plain', value: { a: [1, 'é', null] }, expiresAt, tags: ['t'] },
    ]);
    writeFileSync(file, `${readFileSync(file, 'utf8')}${JSON.stringify({ key: 'old', value: 1, expiresAt: 1000 })}\n`);
    const copy = tempDb();
    expect(kv(['import', copy, '--in', file]).out).toMatch(/imported 2 entries \(1 expired, skipped\)/);
    const binary = kv(['export', db, '-s', 'binary']).out;
    expect(kv(['import', copy, '-s', 'binary'], binary).code).toBe(0);
    using back = new KVStore(copy);
    expect(back.items()).toEqual([
      ['forever', 'x'],
      ['plain', { a: [1, 'é', null] }],
    ]);
    expect(back.tagsOf('plain')).toEqual(['t']);
    expect(kv(['export', copy]).out).toBe(`${[lines[0], lines[1]].map((l) => JSON.stringify(l)).join('\n')}\n`);
    using v8back = new KVStore(copy, { table: 'binary', serializer: 'v8' });
    expect(v8back.get('bytes')).toEqual(Buffer.from([0, 255, 1]));
    expect(v8back.get('map')).toEqual(new Map([[1, new Date(5)]]));
    expect(kv(['import', copy], 'not json\n')).toMatchObject({ code: 3, err: expect.stringMatching(/line 1 is not JSON/) });
  });

  it('clear asks before deleting everything: without a terminal to ask on, it refuses unless --yes', () => {
    const db = tempDb();
    kv(['set', db, 'a:1', '1']);
    kv(['set', db, 'b:1', '1']);
    expect(kv(['clear', db]).code).toBe(3);
    expect(kv(['clear', db, '--prefix', 'a:']).out).toBe('deleted 1 entry\n');
    expect(JSON.parse(kv(['keys', db, '--json']).out)).toEqual(['b:1']);
    expect(kv(['clear', db, '--yes']).code).toBe(0);
    expect(kv(['keys', db]).out).toBe('');
  });

  it('shows what a file written by an earlier release needs, and migrates it when asked', () => {
    const db = tempDb();
    copyFileSync(join(root, 'tests/fixtures/format-v2.db'), db);
    const pending = kv(['migrate', db]);
    expect(pending).toMatchObject({ code: 1, out: expect.stringMatching(/binary, key_value_store/) });
    expect(kv(['migrate', db, '--apply'])).toMatchObject({ code: 0, out: 'migrated binary, key_value_store\n' });
    expect(kv(['migrate', db]).code).toBe(0);
  });

  it('adopts kv-cache (Python) tables, and vacuums and checkpoints a file', () => {
    const db = tempDb();
    copyFileSync(join(root, 'tests/fixtures/python_kvcache_sample.db'), db);
    const adopted = kv(['adopt-kv-cache', db, '--time-zone', 'UTC', '--json']);
    expect(adopted.code).toBe(0);
    expect((JSON.parse(adopted.out) as { table: string }[]).length).toBeGreaterThan(0);
    expect(JSON.parse(kv(['checkpoint', db, '--json']).out)).toMatchObject({ busy: false });
    expect(JSON.parse(kv(['vacuum', db, '--json']).out)).toEqual({ before: expect.any(Number), after: expect.any(Number) });
  });

  it('has --help for the tool and for every command', () => {
    const top = kv(['--help']);
    expect(top.code).toBe(0);
    const names = [...top.out.matchAll(/^ {2}([a-z-]+) </gm)].map((m) => m[1] as string);
    expect(names).toEqual(['stores', 'keys', 'get', 'set', 'delete', 'clear', 'purge', 'stats', 'migrate', 'adopt-kv-cache', 'export', 'import', 'vacuum', 'checkpoint']);
    for (const name of names) expect(kv([name, '--help'])).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`^usage: drizzle-kv ${name} `)) });
  });

  it('on a terminal: a progress bar on stderr while exporting, and the same aligned table', () => {
    const db = tempDb();
    {
      using store = new KVStore(db);
      store.setMany(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i] as const));
    }
    const out = join(tempDir(), 'out.jsonl');
    // `script` gives the command a pseudo-terminal for stdout and stderr.
    const shown = execFileSync('script', ['-qec', `${process.execPath} ${BIN} export ${db} --out ${out}`, '/dev/null'], { encoding: 'utf8' });
    expect(shown).toMatch(/\rexport \[#{30}\] 100% 3000\/3000/);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(3000);
    const table = execFileSync('script', ['-qec', `${process.execPath} ${BIN} stores ${db}`, '/dev/null'], { encoding: 'utf8' });
    expect(table.replaceAll('\r', '')).toMatch(/^store\s+format\s+serializer\s+live\s+expired\s+bytes\s+limits\nkey_value_store\s+3\s+json\s+3000\s+0\s+\d+\s+no limit\n$/);
    // Piped, the same export draws nothing.
    expect(kv(['export', db, '--out', out]).err).toBe('');
    // On a terminal, clear asks; "n" keeps everything, "y" deletes it.
    const ask = (answer: string) => spawnSync('script', ['-qec', `${process.execPath} ${BIN} clear ${db}`, '/dev/null'], { encoding: 'utf8', input: `${answer}\n` });
    const no = ask('n');
    expect([no.status, no.stdout]).toEqual([3, expect.stringMatching(/Delete every entry of store "key_value_store"\? \[y\/N\]/)]);
    expect(kv(['keys', db, '--limit', '1']).out).toBe('k0\n');
    const yes = ask('y');
    expect([yes.status, yes.stdout]).toEqual([0, expect.stringMatching(/deleted 3000 entries/)]);
    expect(kv(['keys', db]).out).toBe('');
  });

  pgIt('works on a PostgreSQL URL, in a schema of its own', () => {
    const url = pgUrl() as string;
    const schema = schemas.fresh();
    expect(kv(['set', url, '--pg-schema', schema, 'k', '[1,2]']).code).toBe(0);
    expect(kv(['get', url, '--pg-schema', schema, 'k']).out).toBe('[1,2]\n');
    expect(JSON.parse(kv(['stores', url, '--pg-schema', schema, '--json']).out)).toMatchObject([{ name: 'key_value_store', live: 1 }]);
    expect(kv(['vacuum', url]).code).toBe(3);
  });

  it('works on a libSQL file: URL', () => {
    const url = `file:${tempDb()}`;
    expect(kv(['set', url, 'k', '"v"']).code).toBe(0);
    expect(kv(['get', url, 'k']).out).toBe('"v"\n');
  });
});
