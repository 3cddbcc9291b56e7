/**
 * The bounded background flush of a store handle: what reads recorded in
 * memory (LRU/LFU accesses, persisted statistics) reaches the database
 * within {@link FLUSH_MS} even when the handle writes nothing. The timer is
 * unreferenced (it never keeps a process alive) and its errors are dropped:
 * the policies are approximate by design, and a flush must never crash the host.
 */

/** How often a handle with something recorded folds it in, at most. */
export const FLUSH_MS = 1000;

export class BackgroundFlush {
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #run: () => unknown;

  constructor(run: () => unknown) {
    this.#run = run;
  }

  /** Starts the timer, if it is not running. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      try {
        const result = this.#run();
        if (result instanceof Promise) result.catch(() => {});
      } catch {
        // dropped: see the module's comment
      }
    }, FLUSH_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
