/**
 * The lease scache's `lease` option takes in the store before computing a
 * missing result, so that of many processes missing one key at once one
 * computes and the others wait for its result (stampede protection).
 *
 * The protocol is written once, as generators that `yield` each store
 * call's result (a value on a sync store, a promise on an async one) or a
 * {@link Pause}, and is run by one of two drivers: {@link runSync} sleeps
 * by blocking the thread (`Atomics.wait`), for a sync function on a sync
 * store, which must return its value from within the call; {@link runAsync}
 * awaits every step and sleeps on a timer, so the event loop keeps running.
 * A store call that throws (sync) or rejects (async) is thrown at its `yield`.
 */
import { randomUUID } from 'node:crypto';

/** Every entry key of scache starts with this. */
export const ENTRY_PREFIX = 'scache:';
/** Every lease key starts with this: never an entry key, which starts with `scache:`. */
export const LEASE_PREFIX = 'scache-lease:';

/** The lease key of an entry key: `scache:<name>:<rest>` → `scache-lease:<name>:<rest>`. */
export function leaseKeyOf(entryKey: string): string {
  return LEASE_PREFIX + entryKey.slice(ENTRY_PREFIX.length);
}

/** The `lease` option, resolved. */
export interface Lease {
  /** Seconds the lease row lives in the store (on the store's clock). */
  readonly ttl: number;
  /** Milliseconds (real time) a caller waits for another's lease at most before computing itself. */
  readonly timeoutMs: number;
}

/** What the protocol needs of a store, sync or async alike: each call's result may be a promise. */
export interface LeaseStore {
  get(key: string, defaultValue: unknown): unknown;
  add(key: string, value: unknown, ttl?: number): unknown;
  delete(key: string): unknown;
  transaction(fn: (store: LeaseStore) => unknown): unknown;
}

/** A step of the protocol that asks its driver to sleep, then resume it. */
class Pause {
  constructor(readonly ms: number) {}
}

/** A protocol: yields store results and pauses, returns `T`. */
export type Protocol<T> = Generator<unknown, T, unknown>;

/** How a caller came out of {@link LeaseProtocol.acquire}. */
export type Acquired<T> =
  /** Another caller's result appeared (after waiting, or found by the re-read after taking the lease). */
  | { readonly kind: 'found'; readonly found: T }
  /** The lease is this caller's: it computes, stores, then releases it with this token. */
  | { readonly kind: 'leased'; readonly token: string }
  /** The wait passed the timeout: the caller computes without the lease. */
  | { readonly kind: 'timeout' };

/** The first pause between two polls of a waiting caller; each next one doubles, up to {@link MAX_POLL_MS}. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** The protocol of one memoized function: its lease option, and whom to tell of a wait and of a failed release. */
export class LeaseProtocol {
  constructor(
    readonly lease: Lease,
    private readonly onWait: () => void,
    private readonly onReleaseError: (err: unknown) => void,
  ) {}

  /** Tries once to take the lease: its token if this caller now holds it, else `undefined`. */
  *take(kv: LeaseStore, leaseKey: string): Protocol<string | undefined> {
    const token = randomUUID();
    return (yield kv.add(leaseKey, token, this.lease.ttl)) === true ? token : undefined;
  }

  /**
   * Takes the lease, or waits for the result of whoever holds it: polls
   * `check` (the entry's read: a usable result, or `undefined`) with a
   * growing pause, and tries to take the lease again whenever it is gone
   * without a result (its holder crashed and the lease expired, or the
   * holder failed and released it). After taking it, reads the entry once
   * more: a holder may have stored its result and released between this
   * caller's read and its `add`, and the result is then not computed twice.
   */
  *acquire<T>(kv: LeaseStore, leaseKey: string, check: () => Protocol<T | undefined>): Protocol<Acquired<T>> {
    const deadline = performance.now() + this.lease.timeoutMs;
    let pause = FIRST_POLL_MS;
    let waiting = false;
    for (;;) {
      const token = yield* this.take(kv, leaseKey);
      if (token !== undefined) {
        let found: T | undefined;
        try {
          found = yield* check();
        } catch (err) {
          yield* this.release(kv, leaseKey, token);
          throw err;
        }
        if (found === undefined) return { kind: 'leased', token };
        yield* this.release(kv, leaseKey, token);
        return { kind: 'found', found };
      }
      if (!waiting) {
        waiting = true;
        this.onWait();
      }
      const left = deadline - performance.now();
      if (left <= 0) return { kind: 'timeout' };
      yield new Pause(Math.max(1, Math.min(pause, Math.ceil(left))));
      pause = Math.min(pause * 2, MAX_POLL_MS);
      const found = yield* check();
      if (found !== undefined) return { kind: 'found', found };
    }
  }

  /**
   * Deletes the lease if it still holds `token`, in one transaction: a lease
   * that expired and was taken by another caller is never deleted by its
   * former holder. Never throws: a lease that cannot be released expires.
   */
  *release(kv: LeaseStore, leaseKey: string, token: string): Protocol<void> {
    try {
      // One callback for both kinds of store: sync inside a sync transaction, a promise inside an async one.
      yield kv.transaction((tx) => {
        const held = tx.get(leaseKey, undefined);
        if (isThenable(held)) return Promise.resolve(held).then((h) => (h === token ? tx.delete(leaseKey) : false));
        return held === token ? tx.delete(leaseKey) : false;
      });
    } catch (err) {
      this.onReleaseError(err);
    }
  }
}

/** One cell to `Atomics.wait` on: nothing ever notifies it, so every wait runs to its timeout. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs a protocol on a sync store, blocking the thread for its pauses
 * (`Atomics.wait`): for a sync function, whose caller must get its value
 * from within the call.
 */
export function runSync<T>(protocol: Protocol<T>): T {
  let step = protocol.next();
  while (!step.done) {
    const value = step.value;
    if (value instanceof Pause) {
      Atomics.wait(sleeper, 0, 0, value.ms);
      step = protocol.next();
    } else if (isThenable(value)) {
      // A store answering with promises needs runAsync; fail loudly rather than pass a promise on as a value.
      throw new TypeError('scache: a sync lease protocol met a store that answers with promises');
    } else {
      step = protocol.next(value);
    }
  }
  return step.value;
}

/** Runs a protocol on any store, awaiting every step and pausing on a timer: the event loop keeps running. */
export async function runAsync<T>(protocol: Protocol<T>): Promise<T> {
  let step = protocol.next();
  while (!step.done) {
    const value = step.value;
    if (value instanceof Pause) {
      // Not unref'd: a caller awaiting its result must keep the process alive until it comes.
      await new Promise<void>((resolve) => setTimeout(resolve, value.ms));
      step = protocol.next();
      continue;
    }
    let result: unknown;
    let error: unknown;
    let failed = false;
    try {
      result = await value;
    } catch (err) {
      failed = true;
      error = err;
    }
    step = failed ? protocol.throw(error) : protocol.next(result);
  }
  return step.value;
}
