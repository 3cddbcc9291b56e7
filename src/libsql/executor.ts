/**
 * Where a libSQL statement runs: on the client (each call its own
 * connection or Hrana stream, writes through the database's write queue),
 * or inside one interactive transaction (its statements in order, nested
 * levels as savepoints).
 */
import type * as Libsql from '@libsql/client' with { 'resolution-mode': 'import' };
import { KVError } from '../core/errors';
import type { LibsqlSession } from './client';
import { isPoolExhausted } from './errors';
import { Mutex, retryBusy } from './gate';

/** One statement: SQL text with `?` placeholders, and its arguments in order. */
export interface Statement {
  readonly sql: string;
  readonly args: Libsql.InValue[];
}

export type ResultSet = Libsql.ResultSet;

/** What the repository and the registry run their statements through. */
export interface Executor {
  /** A read (one statement, consistent in itself). */
  read(statement: Statement): Promise<ResultSet>;
  /** One write statement (outside a transaction, committed on its own). */
  write(statement: Statement): Promise<ResultSet>;
  /** Statements run atomically, all or none, in one round trip on a server. */
  batch(statements: readonly Statement[], mode: 'read' | 'write'): Promise<ResultSet[]>;
  /**
   * Runs a read-modify-write: `fn`'s statements with nothing else writing to
   * the database meanwhile (outside a transaction: a write transaction of
   * its own, which `fn` must not leave half done, since it is committed).
   */
  serialized<T>(fn: (inside: Executor) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` all or nothing: a write transaction, or a savepoint inside one.
   * `rerunnable`: `fn` may run again from the start when the transaction is
   * refused as busy (it was rolled back; a caller's callback is not rerun).
   */
  transaction<T>(fn: (inside: Executor) => Promise<T>, rerunnable?: boolean): Promise<T>;
  /** Runs `fn`'s reads in one consistent snapshot. */
  snapshot<T>(fn: (inside: Executor) => Promise<T>): Promise<T>;
}

const statement = (sql: string): Statement => ({ sql, args: [] });

/** Savepoint names, unique in the process (nested levels and batches inside transactions). */
let savepoints = 0;

/**
 * One level of an interactive transaction: the transaction itself, or a
 * savepoint in it. Its statements run one at a time, in order, through its
 * mutex; a nested level holds its parent's mutex until it ends.
 */
class TransactionLevel {
  readonly mutex = new Mutex();
  /** The executor calls of this level go through. */
  readonly outside: Executor;
  /** The executor of a section that already holds this level's mutex (a read-modify-write's statements). */
  readonly inside: Executor;
  #ended = false;

  constructor(readonly tx: Libsql.Transaction) {
    this.outside = new TransactionExecutor(this, false);
    this.inside = new TransactionExecutor(this, true);
  }

  end(): void {
    this.#ended = true;
  }

  check(): void {
    if (this.#ended) {
      throw new KVError('ERR_KV_CLOSED', 'the transaction this store or database was bound to has ended; use the store outside it instead');
    }
  }

  /** Statements in order, all or nothing: in a savepoint of their own when there are several. */
  async batch(statements: readonly Statement[]): Promise<ResultSet[]> {
    if (statements.length === 1) return [await this.tx.execute(statements[0] as Statement)];
    const name = `drizzle_kv_${++savepoints}`;
    try {
      const results = await this.tx.batch([statement(`SAVEPOINT ${name}`), ...statements, statement(`RELEASE ${name}`)]);
      return results.slice(1, -1);
    } catch (err) {
      await this.#undo(name);
      throw err;
    }
  }

  /** Runs `fn` in a savepoint: a nested level, whose failure undoes only what it did. */
  async savepoint<T>(fn: (inside: Executor) => Promise<T>): Promise<T> {
    const name = `drizzle_kv_${++savepoints}`;
    await this.tx.execute(`SAVEPOINT ${name}`);
    const child = new TransactionLevel(this.tx);
    try {
      const result = await fn(child.outside);
      child.end();
      await this.tx.execute(`RELEASE ${name}`);
      return result;
    } catch (err) {
      child.end();
      await this.#undo(name);
      throw err;
    }
  }

  /**
   * Rolls back to a savepoint and drops it. Errors are dropped: the failure
   * that led here is the one to report, and an error that already rolled the
   * whole transaction back (a full disk) leaves no savepoint to return to.
   */
  async #undo(name: string): Promise<void> {
    try {
      await this.tx.execute(`ROLLBACK TO ${name}`);
      await this.tx.execute(`RELEASE ${name}`);
    } catch {
      // see above
    }
  }
}

class TransactionExecutor implements Executor {
  constructor(
    private readonly level: TransactionLevel,
    /** Whether calls already hold the level's mutex (they run at once) or take it. */
    private readonly holding: boolean,
  ) {}

  #run<T>(fn: () => Promise<T>): Promise<T> {
    this.level.check();
    return this.holding ? fn() : this.level.mutex.run(fn);
  }

  read(s: Statement): Promise<ResultSet> {
    return this.#run(() => this.level.tx.execute(s));
  }

  write(s: Statement): Promise<ResultSet> {
    return this.#run(() => this.level.tx.execute(s));
  }

  batch(statements: readonly Statement[]): Promise<ResultSet[]> {
    return this.#run(() => this.level.batch(statements));
  }

  serialized<T>(fn: (inside: Executor) => Promise<T>): Promise<T> {
    return this.#run(() => fn(this.level.inside));
  }

  transaction<T>(fn: (inside: Executor) => Promise<T>): Promise<T> {
    return this.#run(() => this.level.savepoint(fn));
  }

  snapshot<T>(fn: (inside: Executor) => Promise<T>): Promise<T> {
    return this.serialized(fn);
  }
}

/** Calls on the client itself: reads on a connection (or stream) of their own, writes through the write queue. */
export class ClientExecutor implements Executor {
  constructor(readonly session: LibsqlSession) {}

  read(s: Statement): Promise<ResultSet> {
    return this.#readOnce(() => this.session.client.execute(s));
  }

  write(s: Statement): Promise<ResultSet> {
    const { client, gate, timeout } = this.session;
    return retryBusy(timeout, () => gate.run(() => client.execute(s)));
  }

  batch(statements: readonly Statement[], mode: 'read' | 'write'): Promise<ResultSet[]> {
    const { client, gate, timeout } = this.session;
    if (mode === 'read') {
      if (statements.length === 1) return this.read(statements[0] as Statement).then((result) => [result]);
      return this.#readOnce(() => client.batch([...statements], 'read'));
    }
    if (statements.length === 1) return this.write(statements[0] as Statement).then((result) => [result]);
    return retryBusy(timeout, () => gate.run(() => client.batch([...statements], 'write')));
  }

  /** A read-modify-write is pure until it writes: refused as busy (a server's lock wait ran out), it is run again. */
  serialized<T>(fn: (inside: Executor) => Promise<T>): Promise<T> {
    return retryBusy(this.session.timeout, () => this.#interactive('write', fn));
  }

  transaction<T>(fn: (inside: Executor) => Promise<T>, rerunnable = false): Promise<T> {
    if (rerunnable) return retryBusy(this.session.timeout, () => this.#interactive('write', fn));
    return this.#interactive('write', fn);
  }

  snapshot<T>(fn: (inside: Executor) => Promise<T>): Promise<T> {
    return this.#interactive('read', fn);
  }

  /**
   * A read outside the write queue. When every connection of the client is
   * held by a transaction (`concurrency: 1`, `:memory:`), the client refuses
   * it at once: it then waits for the queue (this library's transaction ends)
   * and tries again.
   */
  async #readOnce<T>(fn: () => Promise<T>): Promise<T> {
    const { gate, timeout } = this.session;
    return retryBusy(timeout, async () => {
      try {
        return await fn();
      } catch (err) {
        if (!isPoolExhausted(err)) throw err;
        return gate.run(fn);
      }
    });
  }

  /**
   * One interactive transaction, alone on the database in this process (see
   * `WriteGate`), its BEGIN retried while busy. It commits when `fn`
   * resolves and rolls back when it throws; either way its level ends, so a
   * store bound to it refuses later calls.
   */
  #interactive<T>(mode: 'write' | 'read', fn: (inside: Executor) => Promise<T>): Promise<T> {
    const { client, gate, timeout } = this.session;
    return gate.exclusive(async () => {
      const tx = await retryBusy(timeout, () => client.transaction(mode));
      const level = new TransactionLevel(tx);
      try {
        const result = await fn(level.outside);
        level.end();
        await tx.commit();
        return result;
      } catch (err) {
        level.end();
        if (!tx.closed) await tx.rollback().catch(() => undefined);
        throw err;
      } finally {
        tx.close();
      }
    });
  }
}
