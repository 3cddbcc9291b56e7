/**
 * Where the PostgreSQL queries of a database go: a node-postgres `Pool`
 * (each transaction on a client of its own) or one `Client` (whose
 * transactions hold it: every other call waits for them to end).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client, Pool, PoolClient, QueryArrayResult } from 'pg';
import { KVError } from '../core/errors';
import type { PgQuery } from './queries';

/** Rows as arrays, and how many rows the statement touched. */
export interface PgResult {
  readonly rows: unknown[][];
  readonly rowCount: number;
}

/** Something queries can run on, in or out of a transaction. */
export interface PgSession {
  /** Runs a compiled query as a named prepared statement. */
  run(query: PgQuery, values: readonly unknown[]): Promise<PgResult>;
  /** Runs SQL text once (DDL, bookkeeping), unprepared. */
  exec(text: string, values?: readonly unknown[]): Promise<PgResult>;
  /**
   * Runs `fn` in one transaction on one connection, given a session bound to
   * it; nested, a savepoint. What `fn` throws passes unchanged; a failed
   * BEGIN or COMMIT is thrown as it came from the driver, marked by
   * {@link isControlFailure}.
   */
  transaction<T>(fn: (session: PgSession) => Promise<T>): Promise<T>;
  /** Whether this session is bound to a transaction. */
  readonly inTransaction: boolean;
}

/** The query config of a compiled query: rows as arrays, no per-row objects. */
function config(query: PgQuery, values: readonly unknown[]) {
  return { name: query.name, text: query.text, values: values as unknown[], rowMode: 'array' as const };
}

function result(res: QueryArrayResult | { rows: unknown[]; rowCount: number | null }): PgResult {
  return { rows: res.rows as unknown[][], rowCount: res.rowCount ?? 0 };
}

const CONTROL_FAILURE = Symbol('drizzle-kv pg transaction control');

/** Whether `err` came from BEGIN, COMMIT or a savepoint rather than from the caller's callback. */
export function isControlFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && CONTROL_FAILURE in err;
}

async function control(client: Pick<Client, 'query'>, text: string): Promise<void> {
  try {
    await client.query(text);
  } catch (err) {
    if (typeof err === 'object' && err !== null) Object.defineProperty(err, CONTROL_FAILURE, { value: true });
    throw err;
  }
}

/** A transaction's session: the one client that holds it. */
class TransactionSession implements PgSession {
  readonly inTransaction = true;
  #depth = 0;
  constructor(readonly client: Pick<Client, 'query'>) {}

  async run(query: PgQuery, values: readonly unknown[]): Promise<PgResult> {
    return result(await this.client.query(config(query, values)));
  }

  async exec(text: string, values: readonly unknown[] = []): Promise<PgResult> {
    return result(await this.client.query({ text, values: values as unknown[], rowMode: 'array' }));
  }

  async transaction<T>(fn: (session: PgSession) => Promise<T>): Promise<T> {
    const name = `drizzle_kv_${++this.#depth}`;
    await control(this.client, `SAVEPOINT ${name}`);
    try {
      const value = await fn(this);
      await control(this.client, `RELEASE SAVEPOINT ${name}`);
      return value;
    } catch (err) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw err;
    } finally {
      this.#depth--;
    }
  }
}

/** Runs `fn` between BEGIN and COMMIT on `client` (ROLLBACK if anything fails). */
async function inTransaction<T>(client: Pick<Client, 'query'>, fn: (session: PgSession) => Promise<T>): Promise<T> {
  await control(client, 'BEGIN');
  let value: T;
  try {
    value = await fn(new TransactionSession(client));
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  try {
    await control(client, 'COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return value;
}

/** Queries on a pool: each on any free client, each transaction on one client of its own. */
export class PoolSession implements PgSession {
  readonly inTransaction = false;
  constructor(readonly pool: Pool) {}

  async run(query: PgQuery, values: readonly unknown[]): Promise<PgResult> {
    return result(await this.pool.query(config(query, values)));
  }

  async exec(text: string, values: readonly unknown[] = []): Promise<PgResult> {
    return result(await this.pool.query({ text, values: values as unknown[], rowMode: 'array' }));
  }

  async transaction<T>(fn: (session: PgSession) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.pool.connect();
    let broken: Error | undefined;
    try {
      return await inTransaction(client, fn);
    } catch (err) {
      // A client whose transaction failed in BEGIN/COMMIT may be broken (a lost connection): the pool drops it.
      if (isControlFailure(err)) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * Marks the async context of a transaction with the client session it holds. One instance for every session:
 * Node visits each enabled AsyncLocalStorage at every new promise.
 */
const holder = new AsyncLocalStorage<ClientSession>();

/** Queries on one app client. A transaction holds it; other calls wait for the transaction to end. */
export class ClientSession implements PgSession {
  readonly inTransaction = false;
  #held: Promise<void> | undefined;
  constructor(readonly client: Client) {}

  async run(query: PgQuery, values: readonly unknown[]): Promise<PgResult> {
    await this.#turn();
    return result(await this.client.query(config(query, values)));
  }

  async exec(text: string, values: readonly unknown[] = []): Promise<PgResult> {
    await this.#turn();
    return result(await this.client.query({ text, values: values as unknown[], rowMode: 'array' }));
  }

  async transaction<T>(fn: (session: PgSession) => Promise<T>): Promise<T> {
    await this.#turn();
    let release = () => {};
    this.#held = new Promise<void>((resolve) => (release = resolve));
    try {
      return await holder.run(this, () => inTransaction(this.client, fn));
    } finally {
      this.#held = undefined;
      release();
    }
  }

  /** Waits for a transaction holding the client; a call made from inside it would wait forever, and is refused. */
  async #turn(): Promise<void> {
    while (this.#held !== undefined) {
      if (holder.getStore() === this) {
        throw new KVError(
          'ERR_KV_INVALID_ARGUMENT',
          "a store or database was used inside another handle's transaction on the same client; use the store the transaction callback was given",
        );
      }
      await this.#held;
    }
  }
}
