import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';

/**
 * Keeps the `-wal` file of a database drizzle-kv opened itself within a
 * bound.
 *
 * SQLite's own checkpoints (PASSIVE, at commit, once the `-wal` holds 1000
 * pages) copy pages back into the database but never wait for readers. The
 * `-wal` starts over from its beginning only when a writer finds every page
 * copied back and no reader using it; readers that overlap without a pause
 * each hold a snapshot a commit or two old, so that moment seldom comes, the
 * `-wal` grows, and without `journal_size_limit` its file never shrinks
 * while a connection is open. So, after a write commits, a `-wal` file
 * larger than {@link WAL_CHECKPOINT_BYTES} gets a TRUNCATE checkpoint, which
 * waits (up to {@link CHECKPOINT_WAIT_MS}) for the readers of old snapshots
 * to finish, copies every page back, starts the `-wal` over and cuts the
 * file to zero bytes.
 */

const MiB = 1024 * 1024;

/**
 * A `-wal` file larger than this gets a TRUNCATE checkpoint after a write.
 * Four times what SQLite's automatic checkpoints let the `-wal` reach when
 * no reader holds it back (1000 pages of 4 KiB, plus the last transaction),
 * so a store without contending readers never pays for one.
 */
export const WAL_CHECKPOINT_BYTES = 16 * MiB;

/**
 * The documented bound on the `-wal` file of a store written only through
 * connections drizzle-kv opened itself. A checkpoint is tried once the
 * `-wal` passes {@link WAL_CHECKPOINT_BYTES} and, after each refusal, once it
 * has grown by another quarter: at 20, 25, 31, 39, 49 and 61 MiB, seven
 * tries below the bound (more if the writes are slow: a try also comes 10 s
 * after a refusal), each allowed to wait {@link CHECKPOINT_WAIT_MS} for a
 * moment when the readers let it through.
 *
 * It holds while (1) read transactions leave such moments: a checkpoint
 * needs about twice the longest read transaction in flight, so reads of
 * up to about 0.4 s each always do (a reader that keeps one transaction
 * open pins the `-wal`, and nothing but ending it helps), (2) the store's
 * `timeout` is at least {@link CHECKPOINT_WAIT_MS} (the checkpoint never
 * waits longer than the store's own timeout), and (3) no single transaction
 * writes more than a few MiB (the `-wal` holds every page of a transaction
 * until it commits). See docs/guarantees.md, "File size: the -wal bound".
 */
export const WAL_BOUND_BYTES = 64 * MiB;

/**
 * The longest a checkpoint waits for readers (and for another writer), in
 * ms; never more than the store's own `timeout`. A TRUNCATE checkpoint needs
 * every reader of an older snapshot to finish, then every reader that
 * started before the copy was complete: about twice the longest read
 * transaction in flight. It is tried again every few ms until it succeeds
 * or this wait runs out, so it takes only as long as the readers need, and
 * a write that runs one is delayed by at most this wait plus the copy of the
 * pages not yet copied back.
 */
export const CHECKPOINT_WAIT_MS = 1000;

/**
 * The `-wal` size limit SQLite applies when the `-wal` starts over by itself
 * (no reader held it back): the first commit after the restart cuts the file
 * to this size. Equal to the threshold, so a file above the threshold is a
 * `-wal` that really grew past it, not one that was merely left large.
 */
const JOURNAL_SIZE_LIMIT = WAL_CHECKPOINT_BYTES;

/** After a refused checkpoint below the bound, the next try waits for the `-wal` to grow by this fraction of its size. */
const RETRY_GROWTH = 0.25;

/**
 * After a refused checkpoint, the next try comes at the latest this long
 * after (at the first write after it), however little the `-wal` grew: once
 * a reader that pinned the `-wal` is done, it is emptied within this time
 * rather than at its next doubling, and while it pins, tries cost the writer
 * at most {@link CHECKPOINT_WAIT_MS} per this interval.
 */
const RETRY_INTERVAL_MS = 10_000;

/** After a refused checkpoint: when a connection tries the next one. */
interface Retry {
  /** At this `-wal` size… */
  size: number;
  /** …or at this time (`performance.now()`), whichever comes first. */
  at: number;
}

/**
 * Per connection, after a refused checkpoint (absent: try at the threshold).
 * Backing off keeps a reader that pins the `-wal` for good from costing a
 * wait every 64 writes: seven tries below the bound, then one per doubling
 * or per {@link RETRY_INTERVAL_MS}.
 */
const retries = new WeakMap<Database.Database, Retry>();

/**
 * Applied once at open, on writable file connections: sets
 * `journal_size_limit`, so a `-wal` that starts over is cut back to
 * {@link WAL_CHECKPOINT_BYTES} at its next commit (and when the last
 * connection closes) instead of keeping the largest size it ever reached.
 */
export function limitWal(client: Database.Database): void {
  client.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
}

/**
 * Called after a write transaction commits, about every 64th write of a
 * store (with its cull), after `setMany` and after each `purgeExpired`
 * batch. Costs one `stat` of the `-wal` file when it is below
 * {@link WAL_CHECKPOINT_BYTES}; above, runs a TRUNCATE checkpoint that waits
 * at most {@link CHECKPOINT_WAIT_MS} for readers.
 *
 * Never throws: the write that called it has committed, and a checkpoint
 * that fails or is refused only leaves the `-wal` as it was (a later call
 * tries again).
 */
export function checkpointIfLarge(client: Database.Database): void {
  try {
    // Inside an open transaction (a set within store.transaction) a checkpoint cannot run; the commit's own call will.
    if (!client.open || client.inTransaction) return;
    const size = statSync(`${client.name}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (size < WAL_CHECKPOINT_BYTES) {
      // Another connection checkpointed it, or it started over: back to the plain threshold.
      retries.delete(client);
      return;
    }
    const retry = retries.get(client);
    if (retry !== undefined && size < retry.size && performance.now() < retry.at) return;
    if (checkpoint(client)) {
      retries.delete(client);
    } else {
      // Refused: again once the -wal has grown. Past the bound the readers pin it for good: fewer tries, each a wait of the writer.
      retries.set(client, {
        size: size < WAL_BOUND_BYTES ? size * (1 + RETRY_GROWTH) : 2 * size,
        at: performance.now() + RETRY_INTERVAL_MS,
      });
    }
  } catch {
    // A checkpoint is housekeeping; the write it follows has committed. A later call retries.
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * `PRAGMA wal_checkpoint(TRUNCATE)`, retried for up to
 * {@link CHECKPOINT_WAIT_MS} (or the store's own timeout, if shorter) until
 * it empties the `-wal`. Returns whether it did (false: readers or another
 * writer held it past the wait; the pages that could be copied back were).
 *
 * The busy timeout is 0 during the tries and restored after: SQLite's busy
 * handler sleeps up to 100 ms at a time once it has waited a while, so a
 * moment without readers would be noticed late; tries a few ms apart notice
 * it at once. A refused try costs a statement, not a copy: pages already
 * copied back are not copied again.
 */
function checkpoint(client: Database.Database): boolean {
  const timeout = Number(client.pragma('busy_timeout', { simple: true }));
  const deadline = performance.now() + Math.min(timeout, CHECKPOINT_WAIT_MS);
  client.pragma('busy_timeout = 0');
  try {
    for (let pause = 1; ; pause = Math.min(2 * pause, 4)) {
      const rows = client.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      if (rows[0]?.busy === 0) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(sleeper, 0, 0, Math.min(pause, left));
    }
  } finally {
    // Restored even when the checkpoint failed: every later write waits the store's own timeout again.
    client.pragma(`busy_timeout = ${timeout}`);
  }
}
