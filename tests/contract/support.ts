/**
 * What lets one test body run on sync and async backends alike: errors that
 * are thrown or rejected, iterators that are sync or async, and transactions
 * whose callback must be sync on a sync store and async on an async one.
 */
import type { Backend, ContractDatabase, ContractStore } from './backends';

export type KVErrorLike = Error & { code?: string };

/**
 * The error `fn` throws or its promise rejects with (fails the test if it
 * succeeds). Sync stores throw, async stores reject: both end up here.
 */
export async function failure(fn: () => unknown): Promise<KVErrorLike> {
  try {
    await fn();
  } catch (err) {
    return err as KVErrorLike;
  }
  throw new Error('expected the call to fail');
}

/** The error code of `fn`'s failure. */
export async function codeOf(fn: () => unknown): Promise<string | undefined> {
  return (await failure(fn)).code;
}

/**
 * Every pair an `entries()` iterator yields, sync or async. Fails past
 * `limit` items: an iterator that revisits keys would otherwise never end
 * (and on a sync store, never let jest's timeout fire).
 */
export async function collect<T>(iterator: Iterable<T> | AsyncIterable<T>, limit = 20_000): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterator) {
    if (out.length === limit) throw new Error(`the iterator yielded more than ${limit} items: does it revisit keys?`);
    out.push(item);
  }
  return out;
}

/** Whether `value` is a promise or any thenable. */
export function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * A transaction body written once for both modes, as a generator: `yield`
 * each store call and get its result back (`const v = yield s.get('k')`).
 * On a sync store the calls have already run and the runner hands the
 * value straight back inside a sync callback; on an async store the runner
 * awaits each one inside an async callback. An error thrown by a call (or
 * a rejected promise) is thrown at the `yield`, so `try`/`catch` works.
 */
export type Body<S, T> = (bound: S) => Generator<unknown, T, unknown>;

function drainSync<T>(gen: Generator<unknown, T, unknown>): T {
  let step = gen.next();
  while (!step.done) {
    if (isThenable(step.value)) throw new Error('a sync backend returned a promise inside a transaction');
    step = gen.next(step.value);
  }
  return step.value;
}

async function drainAsync<T>(gen: Generator<unknown, T, unknown>): Promise<T> {
  let step = gen.next();
  while (!step.done) {
    let value: unknown;
    let error: unknown;
    let failed = false;
    try {
      value = await step.value;
    } catch (err) {
      failed = true;
      error = err;
    }
    step = failed ? gen.throw(error) : gen.next(value);
  }
  return step.value;
}

/**
 * Runs `body` in `store.transaction(fn)`: a sync `fn` on a sync backend, an
 * async one on an async backend, with the store the transaction binds.
 * Returns the value (sync) or its promise (async), so it nests: `yield
 * runTransaction(backend, s, inner)` inside a body is a savepoint.
 */
export function runTransaction<T>(backend: Backend, store: ContractStore, body: Body<ContractStore, T>): T | Promise<T> {
  const transaction = store.transaction.bind(store) as (fn: (s: ContractStore) => unknown) => unknown;
  if (backend.mode === 'sync') return transaction((s) => drainSync(body(s))) as T;
  return transaction(async (s) => drainAsync(body(s))) as Promise<T>;
}

/**
 * Runs `body` in `db.transaction(fn)`. The body gets `open(name)`, which
 * opens a store inside the transaction: on a sync database the outer
 * database's store (its connection is the transaction's), on an async one
 * the store of the database the transaction binds.
 */
export function runDatabaseTransaction<T>(
  backend: Backend,
  db: ContractDatabase,
  body: Body<(name: string) => unknown, T>,
  options?: Parameters<ContractDatabase['store']>[1],
): T | Promise<T> {
  const transaction = db.transaction.bind(db) as (fn: (tx?: ContractDatabase) => unknown) => unknown;
  if (backend.mode === 'sync') return transaction(() => drainSync(body((name) => db.store(name, options)))) as T;
  return transaction(async (tx) => drainAsync(body((name) => (tx as ContractDatabase).store(name, options)))) as Promise<T>;
}
