// Limits of the store, shown on real files and real processes: what
// docs/guarantees.md says the store cannot do. Each test proves one stated
// limit; none of them is a behaviour to rely on.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { copyFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { KVStore } from '../../src';
import { builtEntry } from '../built';
import { FakeClock, integrity, tempDb, tempDir, thrown, withRaw } from '../helpers';

const running = new Set<Child>();

/** A child process (a script of tests/children) read line by line. */
class Child {
  readonly #process: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiting: ((line: string) => void)[] = [];
  #stderr = '';
  #ended: string | undefined;
  readonly closed: Promise<void>;

  constructor(script: string, args: string[]) {
    this.#process = spawn(process.execPath, [join(__dirname, '../children', script), ...args]);
    running.add(this);
    this.#process.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    createInterface({ input: this.#process.stdout }).on('line', (line) => this.#deliver(line));
    this.closed = new Promise((resolve) =>
      this.#process.on('close', (code, signal) => {
        running.delete(this);
        this.#ended = `ERR ${script} ended (${signal ?? code}) before answering: ${this.#stderr}`;
        for (const waiter of this.#waiting.splice(0)) waiter(this.#ended);
        resolve();
      }),
    );
  }

  #deliver(line: string): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(line);
    else this.#lines.push(line);
  }

  /** The next line the child prints (a line starting with "ERR" if it ends first). */
  next(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended !== undefined) return Promise.resolve(this.#ended);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  send(line: string): void {
    this.#process.stdin.write(`${line}\n`);
  }

  /** Kills the child with SIGKILL; resolves once it is gone. */
  kill(): Promise<void> {
    this.#process.kill('SIGKILL');
    return this.closed;
  }
}

afterEach(async () => {
  await Promise.all([...running].map((child) => child.kill()));
});

/** The keys of the default store, as the raw driver sees its rows (expired ones included). */
function rowKeys(path: string): string[] {
  return withRaw(path, (db) => db.prepare('SELECT key FROM key_value_store ORDER BY key').pluck().all() as string[]);
}

describe('a synchronous write waiting for a lock', () => {
  it("blocks the event loop for the whole wait: no timer fires while set waits for another process's lock (timeout: 300)", async () => {
    const path = tempDb();
    using store = new KVStore(path, { timeout: 300 });
    store.set('k', 'before');
    // Another process holds the write lock (a raw connection in BEGIN IMMEDIATE) for longer than the timeout.
    const holder = new Child('lock-holder.cjs', [path, 'key_value_store', '10000', 'rollback']);
    expect(await holder.next()).toBe('locked');

    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    await sleep(100);
    const started = performance.now();
    const err = thrown(() => store.set('k', 'after'));
    const ended = performance.now();
    await sleep(100);
    clearInterval(timer);
    holder.send('release');
    expect(await holder.next()).toBe('released');

    expect(err.code).toBe('ERR_KV_BUSY');
    const before = ticks.filter((t) => t < started);
    const after = ticks.filter((t) => t > ended);
    // The timer ran before and after the call, and never during it…
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect(before.length + after.length).toBe(ticks.length);
    // …which lasted the timeout: a gap of at least ~250 ms between two ticks of a 10 ms timer.
    expect(after[0]! - before.at(-1)!).toBeGreaterThanOrEqual(250);
    expect(store.get('k')).toBe('before');
  });
});

describe('recovery of a large -wal left by a killed process', () => {
  type Answer = { value?: unknown; code?: string; ms: number };

  /** Each reader opens `path` and reads 'last', all at the same moment. */
  async function openAtOnce(readers: Child[], path: string, timeout: number): Promise<Answer[]> {
    for (const reader of readers) reader.send(`${timeout} ${path}`);
    const lines = await Promise.all(readers.map((r) => r.next()));
    return lines.map((line) => {
      if (!line.startsWith('{')) throw new Error(line);
      return JSON.parse(line) as Answer;
    });
  }

  /** A copy of the files of `source` in a new folder, as a process killed with them open left them. */
  function copyOf(source: string): string {
    const path = join(tempDir(), 'crashed.db');
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(`${source}${suffix}`)) copyFileSync(`${source}${suffix}`, `${path}${suffix}`);
    }
    return path;
  }

  /**
   * Starts 8 reader processes, and a writer that grows the -wal of `source` to
   * 64 MiB (the -wal bound) without a checkpoint and is then killed with
   * SIGKILL. Returns the readers and the value of 'last' the writer committed.
   */
  async function crashedWriter(source: string): Promise<{ readers: Child[]; last: number }> {
    const writer = new Child('limits-big-wal.cjs', [builtEntry(), source, '64']);
    const readers = Array.from({ length: 8 }, () => new Child('limits-reader.cjs', [builtEntry()]));
    expect(await Promise.all(readers.map((r) => r.next()))).toEqual(readers.map(() => 'ready'));
    const ready = await writer.next();
    expect(ready).toMatch(/^ready \d+$/);
    await writer.kill();
    expect(statSync(`${source}-wal`).size).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    return { readers, last: Number(ready.split(' ')[1]) };
  }

  const busy = (answers: Answer[]) => answers.filter((a) => a.code === 'ERR_KV_BUSY').length;
  /** What the readers saw, in words: how many read and how long they took, how many failed and when. */
  function summary(answers: Answer[]): string {
    const span = (ms: number[]) => (ms.length === 0 ? '' : ` after ${Math.min(...ms)}–${Math.max(...ms)} ms`);
    const read = answers.filter((a) => a.code === undefined).map((a) => a.ms);
    const failed = answers.filter((a) => a.code !== undefined).map((a) => a.ms);
    return `${read.length} read${span(read)}, ${failed.length} ERR_KV_BUSY${span(failed)}`;
  }

  it('blocks the processes that open the file meanwhile: they wait, or fail with ERR_KV_BUSY, and never answer wrong', async () => {
    const source = join(tempDir(), 'source.db');
    const { readers, last } = await crashedWriter(source);

    // 8 processes open the file at the same moment: one recovers the -wal, the others wait for it.
    const patient = copyOf(source);
    const waited = await openAtOnce(readers, patient, 5000);
    expect(waited.map((a) => a.value)).toEqual(readers.map(() => last));

    // With a short timeout, a reader that meets the recovery may fail with ERR_KV_BUSY; the rest read right.
    const short = await openAtOnce(readers, copyOf(source), 50);
    for (const a of short) expect(a.code === 'ERR_KV_BUSY' || a.value === last).toBe(true);

    // With no timeout, every reader that meets the recovery fails: proof that they are blocked by it.
    let none = await openAtOnce(readers, copyOf(source), 0);
    for (let round = 1; round < 3 && busy(none) === 0; round++) none = await openAtOnce(readers, copyOf(source), 0);
    for (const a of none) expect(a.code === 'ERR_KV_BUSY' || a.value === last).toBe(true);
    expect(busy(none)).toBeGreaterThan(0);

    // Once recovered, the file holds every entry the killed writer committed.
    expect(integrity(patient)).toBe('ok');
    using recovered = new KVStore(patient);
    expect(recovered.size).toBe(last + 1);

    console.log(
      `8 processes opening a file with a 64 MiB -wal to recover, at once: with the default timeout ${summary(waited)}; ` +
        `with timeout 50 ${summary(short)}; with timeout 0 ${summary(none)}`,
    );
  });

  it('runs no recovery, and blocks no reader, while another process had the file open throughout', async () => {
    const source = tempDb();
    using keeper = new KVStore(source); // open before the writer starts, and after it is killed
    keeper.set('last', 0);
    const { readers, last } = await crashedWriter(source);

    expect(keeper.get('last')).toBe(last);
    const answers = await openAtOnce(readers, source, 0);
    expect(answers.map((a) => a.value)).toEqual(readers.map(() => last));
  });
});

describe('clocks', () => {
  it("a store whose clock is ahead hides entries that are live by the writer's clock, and its cull deletes them", () => {
    const path = tempDb();
    const writerClock = new FakeClock();
    using writer = new KVStore(path, { clock: writerClock });
    writer.set('session', 'live', 600); // expires in 10 minutes, by the writer's clock
    using ahead = new KVStore(path, { clock: new FakeClock(writerClock.time + 3_600_000) }); // one hour ahead

    expect(ahead.get('session')).toBeUndefined(); // expired, by its own clock
    expect(writer.get('session')).toBe('live');
    ahead.set('other', 1); // the first write of a store culls expired rows
    expect(writer.get('session')).toBeUndefined(); // deleted 10 minutes before its time
    expect(rowKeys(path)).toEqual(['other']);
  });

  it('a clock moved back revives an entry that had expired (until a cull deletes it)', () => {
    const path = tempDb();
    const writerClock = new FakeClock();
    using writer = new KVStore(path, { clock: writerClock });
    writer.set('token', 'old', 60);
    const readerClock = new FakeClock(writerClock.time + 120_000); // two minutes later: the token has expired
    using reader = new KVStore(path, { clock: readerClock });
    expect(reader.get('token')).toBeUndefined();
    expect(reader.has('token')).toBe(false);

    readerClock.advance(-120); // the reader's clock is set back two minutes
    expect(reader.get('token')).toBe('old');
    expect(reader.ttl('token')).toBe(60);
    expect(rowKeys(path)).toEqual(['token']);
  });
});

describe("a store's files changed under a process that has it open", () => {
  /** A closed store at a new path holding 'base' = 0. */
  function baseStore(): string {
    const path = tempDb();
    using store = new KVStore(path);
    store.set('base', 0);
    return path;
  }

  it('deleting the -wal and -shm loses the writes that process acknowledged, before and after', async () => {
    const path = baseStore();
    const writer = new Child('limits-writer.cjs', [builtEntry(), path]);
    expect(await writer.next()).toBe('written'); // 'acked' = 1 is committed, in the -wal
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);

    rmSync(`${path}-wal`);
    rmSync(`${path}-shm`);
    const other = new KVStore(path);
    expect(other.get('acked')).toBeUndefined(); // another process no longer sees the committed write
    other.set('fromB', 3);
    writer.send('write');
    expect(await writer.next()).toBe('wrote [1,2,null]'); // the writer goes on, on files nobody else sees
    writer.send('close');
    expect(await writer.next()).toBe('closed');
    other.close();

    expect(rowKeys(path)).toEqual(['base', 'fromB']); // 'acked' and 'acked2' are lost
    expect(integrity(path)).toBe('ok');
  });

  it('replacing the file (removed with its -wal and -shm, a backup put in its place) loses the writes that process acknowledges', async () => {
    const path = baseStore();
    const backup = join(tempDir(), 'backup.db');
    copyFileSync(path, backup);
    const writer = new Child('limits-writer.cjs', [builtEntry(), path]);
    expect(await writer.next()).toBe('written');

    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`);
    renameSync(backup, path);
    writer.send('write');
    expect(await writer.next()).toBe('wrote [1,2,null]'); // acknowledged, into the removed file
    const other = new KVStore(path);
    expect([other.get('acked'), other.get('acked2')]).toEqual([undefined, undefined]);
    other.set('fromB', 3);
    writer.send('close');
    expect(await writer.next()).toBe('closed');
    other.close();

    expect(rowKeys(path)).toEqual(['base', 'fromB']);
    expect(integrity(path)).toBe('ok');
  });
});
