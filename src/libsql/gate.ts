import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KVError } from '../core/errors';
import { isBusy } from './errors';

/** The sections the current async context runs inside (innermost first): a gate's exclusive section, a transaction level's turn. */
interface Held {
  readonly token: object;
  readonly up: Held | undefined;
}

/**
 * One AsyncLocalStorage for every gate and mutex. Each enabled instance
 * stays in Node's list of storages for good, and every promise created in
 * the process afterwards is propagated to each of them: one per transaction
 * made every later call slower (a `get` went from 40 µs to 840 µs after 1000 `incr`).
 */
const held = new AsyncLocalStorage<Held>();

/** Whether the current async context runs inside the section holding `token`. */
function holds(token: object | undefined): boolean {
  if (token === undefined) return false;
  for (let h = held.getStore(); h !== undefined; h = h.up) if (h.token === token) return true;
  return false;
}

/** Runs `fn` marked as inside the section holding `token` (and inside every section it already was). */
function runHolding<T>(token: object, fn: () => Promise<T>): Promise<T> {
  return held.run({ token, up: held.getStore() }, fn);
}

interface Waiter {
  /** Set for an exclusive section: the token it holds the gate with. */
  readonly token?: object;
  readonly start: () => void;
}

/**
 * The in-process write queue of one libSQL database (one client, or every
 * client this library opened on one file).
 *
 * libSQL holds a write transaction on a connection of its own, across the
 * caller's awaits. A write on another connection of the same process then
 * waits for the file's lock *inside the driver*, blocking the thread, so the
 * transaction it waits for cannot go on: it fails with `SQLITE_BUSY` after
 * the busy timeout. So, in one process:
 * - an exclusive section (a write transaction: `incr`, `transaction(fn)`,
 *   creating or migrating a store) runs alone, after the writes already
 *   started have finished;
 * - a write (one statement, or one atomic `batch`) waits while an exclusive
 *   section runs or is queued before it; writes run together otherwise;
 * - in first-come order, so neither kind starves the other.
 *
 * Reads do not pass through the gate: they run on a connection of their own
 * and see the last commit (SQLite's WAL lets them run beside a writer).
 */
export class WriteGate {
  /** The token of the exclusive section running, if one is. */
  #active: object | undefined;
  /** Writes running. */
  #inflight = 0;
  readonly #queue: Waiter[] = [];
  /** Runs one atomic write, after any exclusive section that started or queued before it. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active !== undefined || this.#queue.length > 0) {
      this.#refuseSelf();
      await new Promise<void>((start) => this.#queue.push({ start }));
    } else {
      this.#inflight++;
    }
    try {
      return await fn();
    } finally {
      this.#inflight--;
      this.#dispatch();
    }
  }

  /** Runs `fn` alone: after every write and section before it, and before any after it, across its awaits. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const token = {};
    if (this.#active !== undefined || this.#inflight > 0 || this.#queue.length > 0) {
      this.#refuseSelf();
      await new Promise<void>((start) => this.#queue.push({ token, start }));
    } else {
      this.#active = token;
    }
    try {
      return await runHolding(token, fn);
    } finally {
      this.#active = undefined;
      this.#dispatch();
    }
  }

  /** Whether the current async context is inside an exclusive section of this gate that still runs. */
  get holding(): boolean {
    return holds(this.#active);
  }

  /** Starts what waits at the head of the queue: writes up to the next section, or that section once the writes are done. */
  #dispatch(): void {
    while (this.#active === undefined && this.#queue.length > 0) {
      const next = this.#queue[0] as Waiter;
      if (next.token !== undefined) {
        if (this.#inflight > 0) return;
        this.#queue.shift();
        this.#active = next.token;
        next.start();
        return;
      }
      this.#queue.shift();
      this.#inflight++;
      next.start();
    }
  }

  /** A call made from inside this gate's running section would wait for that section forever: refuse it instead. */
  #refuseSelf(): void {
    if (this.holding) {
      throw new KVError(
        'ERR_KV_INVALID_ARGUMENT',
        "a store or database was used inside another handle's transaction on the same libSQL database; use the store (or database) the transaction callback was given",
      );
    }
  }
}

/**
 * Runs `fn`, retrying while libSQL reports `SQLITE_BUSY`, until `timeout` ms
 * have passed since the first attempt. The driver's busy handler already
 * waits up to the busy timeout inside each attempt; what comes back busy
 * sooner is what SQLite reports without waiting (another process switching
 * the file to WAL, or recovering it). Every `fn` given here is atomic (one
 * statement, a batch, or the BEGIN of a transaction), so retrying is safe.
 */
export async function retryBusy<T>(timeout: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeout;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      return await fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
    }
    // Jitter, so processes that collided do not retry in step.
    await sleep(Math.min(pause * (0.5 + Math.random()), Math.max(deadline - Date.now(), 0)));
  }
}

/**
 * One level of an interactive transaction: its read-modify-writes and
 * savepoints run one at a time (two `incr` of one key inside a transaction
 * must not both read before either writes), in first-come order.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  /** The token of the call holding the mutex, if one does. */
  #active: object | undefined;

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (holds(this.#active)) {
      throw new KVError(
        'ERR_KV_INVALID_ARGUMENT',
        'a store was used inside a nested transaction of its own transaction; use the store the nested transaction callback was given',
      );
    }
    const previous = this.#tail;
    let release = () => {};
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    const token = {};
    this.#active = token;
    try {
      return await runHolding(token, fn);
    } finally {
      this.#active = undefined;
      release();
    }
  }
}
