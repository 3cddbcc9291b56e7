// The database path and the file system around it: paths that are not regular
// files, the -wal and -shm files SQLite creates beside a file, folders and file
// systems that refuse them, a full disk and a failing one. Each open either
// works or fails with a typed error that says what happened. The faults are
// real: permissions checked by an unprivileged child process, a small tmpfs,
// and an ext4 file system on a loop device whose backing store runs out.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { KVDatabase, KVError, KVStore } from '../../src';
import { childRuntime } from '../child-runtime';
import { SmallFs, canMount, itWithFaults } from '../fault-fs';
import { tempDir, thrown, withRaw } from '../helpers';

const posix = process.platform !== 'win32';
const asRoot = process.getuid?.() === 0;


/**
 * Runs `code` (CommonJS, with `fs`, the built package as `kv`, its `KVStore`
 * and `KVDatabase`, and an empty result object `r` in scope) in a child
 * process, and returns `r` as the child printed it. `unprivileged`: as
 * uid/gid 65534 when the tests run as root, whom file permissions do not
 * stop (as the current user otherwise). An open that never returns (SQLite
 * opening a FIFO read-only waits for a writer) fails the test after 30 s
 * instead of blocking it.
 */
function inChild(code: string, { unprivileged = false } = {}): Record<string, unknown> {
  const runtime = childRuntime();
  const script = `const fs = require('node:fs'); const kv = require(${JSON.stringify(join(runtime, 'index.cjs'))}); const { KVStore, KVDatabase } = kv; const r = {}; ${code}; console.log(JSON.stringify(r));`;
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: runtime,
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
    ...(unprivileged && asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  if (result.signal !== null) throw new Error(`the child was killed by ${result.signal} (an open that never returned?)\n${result.stderr}`);
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const unprivileged = (code: string) => inChild(code, { unprivileged: true });

/** Child code: runs `body`, recording in `r[label]` 'ok' or the error's code (and its message in `r[label + ' message']`). */
const attempt = (label: string, body: string) =>
  `try { ${body}; r[${JSON.stringify(label)}] = 'ok'; } catch (e) { r[${JSON.stringify(label)}] = e.code; r[${JSON.stringify(`${label} message`)}] = e.message; }`;

/** A folder the unprivileged child may write in. */
function sharedDir(): string {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  return dir;
}

interface OpenError {
  typed: boolean;
  code?: string;
  message?: string;
}

/**
 * How each way of opening `path` fails (a store, a database; writable,
 * read-only), in a child process: on a FIFO, an open SQLite made would wait
 * for ever.
 */
function openErrors(path: string): OpenError[] {
  const r = inChild(`
    const p = ${JSON.stringify(path)};
    r.errors = [() => new KVStore(p), () => new KVStore(p, { readonly: true }), () => new KVDatabase(p), () => new KVDatabase(p, { readonly: true })].map((open) => {
      try { open().close(); return { typed: false, code: 'opened' }; } catch (e) { return { typed: kv.isKVError(e), code: e.code, message: e.message }; }
    });
  `);
  return r['errors'] as OpenError[];
}

(posix ? describe : describe.skip)('paths that are not regular files', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    server = undefined;
  });

  const kinds: Array<[string, RegExp, (path: string) => Promise<void> | void]> = [
    ['a directory', /a directory/, (path) => mkdirSync(path)],
    ['a FIFO', /a FIFO/, (path) => void execFileSync('mkfifo', [path])],
    [
      'a socket',
      /a socket/,
      (path) =>
        new Promise<void>((listening) => {
          server = createServer().listen(path, listening);
        }),
    ],
    [
      'a symbolic link to a FIFO',
      /a FIFO/,
      (path) => {
        execFileSync('mkfifo', [`${path}.fifo`]);
        symlinkSync(`${path}.fifo`, path);
      },
    ],
  ];

  it.each(kinds)('refuses %s with ERR_KV_CANT_OPEN naming it, before SQLite opens it, creating nothing beside it', async (_kind, named, make) => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    await make(path);
    const before = readdirSync(dir).sort();
    for (const err of openErrors(path)) {
      expect(err.typed).toBe(true);
      expect(err.code).toBe('ERR_KV_CANT_OPEN');
      expect(err.message).toMatch(named);
      expect(err.message).toContain('not a regular file');
    }
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  (existsSync('/dev/null') ? it : it.skip)('refuses /dev/null (a character device), leaving no -journal, -wal or -shm file in /dev', () => {
    const beside = ['-journal', '-wal', '-shm'].map((suffix) => `/dev/null${suffix}`);
    const already = beside.filter((f) => existsSync(f));
    try {
      for (const err of openErrors('/dev/null')) {
        expect(err.code).toBe('ERR_KV_CANT_OPEN');
        expect(err.message).toBe('open /dev/null: it is a character device, not a regular file, so it cannot hold a database');
      }
      expect(beside.filter((f) => existsSync(f))).toEqual(already);
    } finally {
      // Should an open ever create one (as root, SQLite can), it must not outlive the test.
      for (const f of beside) if (!already.includes(f)) rmSync(f, { force: true });
    }
  });

  it('opens a database through a symbolic link to a regular file, and the file itself', () => {
    const dir = tempDir();
    const real = join(dir, 'real.db');
    new KVStore(real).close();
    symlinkSync(real, join(dir, 'link.db'));
    using viaLink = new KVStore(join(dir, 'link.db'));
    viaLink.set('k', 1);
    using direct = new KVStore(real, { readonly: true });
    expect(direct.get('k')).toBe(1);
  });

  it("still opens ':memory:' (not a path)", () => {
    using store = new KVStore(':memory:');
    store.set('k', 1);
    expect(store.get('k')).toBe(1);
  });
});

(posix ? describe : describe.skip)('the -wal and -shm files of a file its owner may not write', () => {
  /** Child code: `p` is a new store file with k = 1, closed (no -wal, no -shm), then chmod 444. */
  const readOnlyFile = (dir: string) => `
    const p = ${JSON.stringify(join(dir, 'cache.db'))};
    const mode = (f) => (fs.statSync(f).mode & 0o777).toString(8);
    const s = new KVStore(p); s.set('k', 1); s.close();
    r.sideFilesAfterClose = fs.readdirSync(${JSON.stringify(dir)}).length - 1;
    fs.chmodSync(p, 0o444);`;

  /** Child code: makes `p` writable again, then opens it writable and writes, keeping the -shm's identity. */
  const writeAfterChmod = `
    fs.chmodSync(p, 0o644);
    const shm = fs.statSync(p + '-shm').ino;
    ${attempt('write after chmod 644', `const w = new KVStore(p); try { w.set('k', 2); r.value = w.get('k'); r.sameShm = fs.statSync(p + '-shm').ino === shm; } finally { w.close(); }`)}`;

  it('a read-only open leaves a -shm its owner may write, so writable opens work once the file is writable again', () => {
    const dir = sharedDir();
    const r = unprivileged(`
      ${readOnlyFile(dir)}
      const ro = new KVStore(p, { readonly: true }); r.read = ro.get('k'); ro.close();
      r.shm = mode(p + '-shm'); r.wal = mode(p + '-wal');
      ${writeAfterChmod}
    `);
    expect(r).toEqual({
      sideFilesAfterClose: 0,
      read: 1,
      // SQLite gave them the file's mode, 444, and kept them after the close; the owner may write them again.
      shm: '644',
      wal: '644',
      'write after chmod 644': 'ok',
      value: 2,
      sameShm: true, // repaired in place, not replaced
    });
  });

  it('a writable open of such a file (read-only, as SQLite opens it) leaves no sticky read-only state either', () => {
    const dir = sharedDir();
    const r = unprivileged(`
      ${readOnlyFile(dir)}
      const w0 = new KVStore(p); r.read = w0.get('k');
      ${attempt('write while 444', `w0.set('k', 2)`)}
      w0.close();
      ${writeAfterChmod}
    `);
    expect(r).toMatchObject({ read: 1, 'write while 444': 'ERR_KV_READONLY', 'write after chmod 644': 'ok', value: 2, sameShm: true });
  });

  // As root, SQLite hands the -shm it creates to the database file's owner, with the file's mode: the owner's
  // later writable opens need it writable as much.
  it("a read-only open by root (or the tests' own user) of another user's such file leaves it writable for that user", () => {
    const dir = sharedDir();
    const p = join(dir, 'cache.db');
    unprivileged(`${readOnlyFile(dir)}`);
    const ro = new KVStore(p, { readonly: true });
    expect(ro.get('k')).toBe(1);
    ro.close();
    const r = unprivileged(`const p = ${JSON.stringify(p)}; ${writeAfterChmod}`);
    expect(r).toMatchObject({ 'write after chmod 644': 'ok', value: 2, sameShm: true });
  });
});

(posix ? describe : describe.skip)('a folder that does not allow the -wal and -shm files', () => {
  it('says, for a writable open and for a read-only one, what that open needed', () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const locked = join(dir, 'locked');
    const path = join(locked, 'cache.db');
    const s = new KVStore(path);
    s.set('k', 1);
    s.close();
    chmodSync(path, 0o666); // the file itself may be written by anyone…
    chmodSync(locked, 0o555); // …but nothing may be created beside it
    try {
      const r = unprivileged(`
        ${attempt('writable', `new KVStore(${JSON.stringify(path)})`)}
        ${attempt('read-only', `new KVStore(${JSON.stringify(path)}, { readonly: true })`)}
      `);
      expect([r['writable'], r['read-only']]).toEqual(['ERR_KV_CANT_OPEN', 'ERR_KV_CANT_OPEN']);
      expect(r['writable message']).toMatch(/a writable open of a WAL file needs to create its -wal and -shm files beside it, and the folder .*locked does not allow it/);
      expect(r['writable message']).not.toMatch(/read-only open/);
      expect(r['read-only message']).toMatch(/a read-only open of a WAL file needs its -shm file, and the folder does not allow creating one/);
      expect(readdirSync(locked)).toEqual(['cache.db']);
    } finally {
      chmodSync(locked, 0o755);
    }
  });
});

describe('a full disk', () => {
  itWithFaults('makes an open ERR_KV_FULL (the driver error as cause), for an existing file, a new one and a read-only open; it opens once space is freed', () => {
    const fs = new SmallFs(256 * 1024);
    try {
      const path = join(fs.dir, 'cache.db');
      const s = new KVStore(path);
      s.set('k', 1);
      s.close();
      fs.fill();
      for (const [what, open] of Object.entries({
        'existing file': () => new KVStore(path),
        'existing file, read-only': () => new KVStore(path, { readonly: true }),
        'existing file, KVDatabase': () => new KVDatabase(path),
        'new file': () => new KVStore(join(fs.dir, 'new.db')),
      })) {
        const err = thrown(open);
        expect([what, err instanceof KVError, err.code]).toEqual([what, true, 'ERR_KV_FULL']);
        expect(err.message).toMatch(/the disk is full/);
        // SQLite's own word for it: SQLITE_FULL, or an I/O error (for the -shm it could not grow: SQLITE_IOERR_SHMSIZE).
        expect((err.cause as { code: string }).code).toMatch(/^SQLITE_(FULL|IOERR)/);
      }
      fs.free();
      using store = new KVStore(path);
      expect(store.get('k')).toBe(1);
      store.set('k', 2);
      expect(store.get('k')).toBe(2);
    } finally {
      fs.dispose();
    }
  });
});

describe('a read-only file system', () => {
  itWithFaults('makes an open ERR_KV_IO saying so (ERR_KV_READONLY where SQLite says read-only), creating nothing; it opens once writable', () => {
    const fs = new SmallFs(1024 * 1024);
    try {
      const path = join(fs.dir, 'cache.db');
      const s = new KVStore(path);
      s.set('k', 1);
      s.close();
      // A file whose -wal and -shm are there (as a process killed while it had the file open leaves them).
      const left = join(fs.dir, 'left.db');
      const writer = new KVStore(left);
      writer.set('k', 1);
      for (const suffix of ['', '-wal', '-shm']) copyFileSync(`${left}${suffix}`, join(fs.dir, `stale.db${suffix}`));
      writer.close();
      // A file in rollback-journal mode, which a writable open switches to WAL: a write, refused as SQLite says.
      const journal = join(fs.dir, 'journal.db');
      withRaw(journal, (db) => db.exec('CREATE TABLE t (a)'));
      fs.readonly();
      const before = readdirSync(fs.dir).sort();
      for (const [what, open, code] of [
        ['existing file', () => new KVStore(path), 'ERR_KV_IO'],
        ['existing file, KVDatabase', () => new KVDatabase(path), 'ERR_KV_IO'],
        ['existing file, read-only (its -shm cannot be created)', () => new KVStore(path, { readonly: true }), 'ERR_KV_IO'],
        ['new file', () => new KVStore(join(fs.dir, 'new.db')), 'ERR_KV_IO'],
        ['new file in a new folder', () => new KVStore(join(fs.dir, 'sub', 'new.db')), 'ERR_KV_IO'],
        ['rollback-journal file', () => new KVStore(journal), 'ERR_KV_READONLY'],
      ] as const) {
        const err = thrown(open);
        expect([what, err instanceof KVError, err.code]).toEqual([what, true, code]);
        expect(err.message).toMatch(/is mounted read-only \(EROFS\)/);
        expect(err.cause).toBeDefined();
      }
      expect(readdirSync(fs.dir).sort()).toEqual(before);
      // With its -wal and -shm there, SQLite opens the file read-only by itself: reads work, and a write is
      // what SQLite calls it, a write on a read-only database.
      const stale = new KVStore(join(fs.dir, 'stale.db'));
      expect(stale.get('k')).toBe(1);
      expect(thrown(() => stale.set('k', 2)).code).toBe('ERR_KV_READONLY');
      stale.close();
      fs.writable();
      using store = new KVStore(path);
      store.set('k', 2);
      expect(store.get('k')).toBe(2);
    } finally {
      fs.dispose();
    }
  });
});

/** Whether loop devices and mkfs.ext4 are there (besides mounting): for a file system that really fails. */
const canLoop =
  canMount &&
  existsSync('/dev/loop-control') &&
  spawnSync('losetup', ['--version']).status === 0 &&
  spawnSync('mkfs.ext4', ['-V']).status === 0;

/**
 * An ext4 file system on a loop device, whose image is a sparse file on a
 * tmpfs far smaller than the image: once the tmpfs is full, every write the
 * loop device passes down fails. With a journal larger than the tmpfs, and
 * every write going through it (data=journal), the first such failure is a
 * journal write: ext4 reports EIO, aborts its journal and turns read-only
 * (errors=remount-ro) under the open files, as on a dying disk. (A tmpfs
 * cannot be remounted read-only under an open store: the kernel refuses
 * while a file is open for writing.)
 */
class FailingDisk {
  readonly dir: string;
  readonly #backing: SmallFs;

  #device = '';

  constructor() {
    this.#backing = new SmallFs(3 * 1024 * 1024);
    this.dir = tempDir();
    try {
      const image = join(this.#backing.dir, 'ext4.img');
      writeFileSync(image, '');
      truncateSync(image, 32 * 1024 * 1024);
      // Lazy init writes almost nothing now: the image stays sparse, and the tmpfs runs out later, under the store.
      execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', '-J', 'size=8', '-N', '64', image]);
      this.#device = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
      execFileSync('mount', ['-t', 'ext4', '-o', 'errors=remount-ro,data=journal', this.#device, this.dir]);
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  /** Unmounts, detaches and removes everything. Close every database on it first. */
  dispose(): void {
    spawnSync('umount', ['-l', this.dir]);
    if (this.#device !== '') spawnSync('losetup', ['-d', this.#device]);
    this.#backing.dispose();
  }
}

/** {@link itWithFaults}, where a {@link FailingDisk} can be made too; elsewhere skipped, saying so. */
function itWithFailingDisk(name: string, fn: () => void): void {
  if (canLoop || !canMount) {
    itWithFaults(name, fn);
    return;
  }
  process.stderr.write(`skipped (needs loop devices, losetup and mkfs.ext4): ${name}\n`);
  it.skip(name, fn);
}

describe('a failing disk', () => {
  // In a child process: see the end of its script.
  itWithFailingDisk('gives ERR_KV_IO for writes that hit EIO, and again once the file system turned read-only under the open store', () => {
    const disk = new FailingDisk();
    try {
      const runtime = childRuntime();
      const script = `
        const fs = require('node:fs');
        const { KVStore } = require(${JSON.stringify(join(runtime, 'index.cjs'))});
        const dir = ${JSON.stringify(disk.dir)};
        const step = (name, fn) => {
          let r;
          try { r = { name, ok: fn() ?? null }; } catch (e) { r = { name, code: e.code, cause: e.cause?.code, message: e.message }; }
          fs.writeSync(1, JSON.stringify(r) + '\\n');
        };
        const store = new KVStore(dir + '/cache.db', { durability: 'full' });
        store.set('first', 1);
        step('writes until one fails', () => { for (let i = 0; i < 2000; i++) store.set('k' + i, 'x'.repeat(8000)); });
        step('the file system', () => { fs.mkdirSync(dir + '/probe'); return 'writable'; });
        step('a read of what was committed', () => store.get('first'));
        step('a write under the read-only file system', () => store.set('later', 1));
        step('an open of a new file', () => { new KVStore(dir + '/other.db'); });
        // Killed rather than closed: the checkpoint SQLite makes as it closes writes the -shm mapping, which on a
        // file system gone read-only under it the kernel answers with SIGBUS.
        process.kill(process.pid, 'SIGKILL');
      `;
      const child = spawnSync(process.execPath, ['-e', script], { cwd: runtime, encoding: 'utf8' });
      const steps = child.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { name: string; ok?: unknown; code?: string; cause?: string; message?: string });
      expect(steps.map((s) => s.name)).toHaveLength(5);
      const [writes, fsState, read, later, open] = steps;
      expect([writes?.code, writes?.cause]).toEqual(['ERR_KV_IO', expect.stringMatching(/^SQLITE_IOERR/)]);
      expect(fsState?.code).toBe('EROFS'); // ext4 turned itself read-only after the I/O error
      expect(read?.ok).toBe(1);
      expect([later?.code, later?.cause]).toEqual(['ERR_KV_IO', expect.stringMatching(/^SQLITE_IOERR/)]);
      // A typed error (ext4's emergency read-only state is not one access(2) reports, so nothing more can be said).
      expect(open?.code).toBe('ERR_KV_CANT_OPEN');
    } finally {
      disk.dispose();
    }
  });
});
