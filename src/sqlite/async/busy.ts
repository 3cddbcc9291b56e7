import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KVError } from '../../core/errors';

/** Whether `err` is SQLite's "the database is locked" (by another connection or process). */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Marks the async context of a transaction with the gate it holds, to refuse a call that would wait for itself.
 * One instance for every gate: Node visits each enabled AsyncLocalStorage at every new promise, so one per
 * connection would slow every later call of the process.
 */
const holder = new AsyncLocalStorage<ConnectionGate>();

/**
 * Orders the async calls on one connection, and waits for other processes'
 * locks without blocking the thread.
 *
 * - While a caller's transaction is open (across its awaits), every other
 *   call on the connection waits for it to end: SQLite would run it inside
 *   that transaction.
 * - A call refused as busy is retried on a timer, for up to `timeout` ms,
 *   so the event loop keeps running; the driver's own busy handler would
 *   sleep the thread. Every call given here is atomic (one statement, or a
 *   transaction that `BEGIN IMMEDIATE` refused before it changed anything),
 *   so retrying it is safe.
 */
export class ConnectionGate {
  #held: Promise<void> | undefined;
  readonly #timeout: number;

  constructor(timeout: number) {
    this.#timeout = timeout;
  }

  /** Runs one atomic call, after any open transaction. */
  async run<T>(fn: () => T): Promise<T> {
    return this.#retry(fn, true);
  }

  /** Takes the connection, runs `begin` (retried while busy), then `fn` with the connection to itself, across its awaits. */
  async exclusive<T>(begin: () => void, fn: () => Promise<T>): Promise<T> {
    while (this.#held !== undefined) await this.#wait(this.#held);
    let release = () => {};
    this.#held = new Promise<void>((resolve) => (release = resolve));
    try {
      await this.#retry(begin, false);
      return await holder.run(this, fn);
    } finally {
      this.#held = undefined;
      release();
    }
  }

  /** Waits for the transaction holding the connection, unless this call is part of it (it would wait forever). */
  #wait(held: Promise<void>): Promise<void> {
    if (holder.getStore() === this) {
      throw new KVError(
        'ERR_KV_INVALID_ARGUMENT',
        "a store or database was used inside another handle's transaction on the same connection; use the store the transaction callback was given",
      );
    }
    return held;
  }

  async #retry<T>(fn: () => T, waitForHolder: boolean): Promise<T> {
    const deadline = Date.now() + this.#timeout;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      if (waitForHolder) while (this.#held !== undefined) await this.#wait(this.#held);
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err) || Date.now() >= deadline) throw err;
      }
      // Jitter, so processes that collided do not retry in step.
      await sleep(Math.min(pause * (0.5 + Math.random()), Math.max(deadline - Date.now(), 0)));
    }
  }
}
