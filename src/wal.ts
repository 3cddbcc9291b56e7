import type Database from 'better-sqlite3';

/**
 * Keeps the `-wal` file of a database drizzle-kv opened itself within a
 * bound. (Placeholder: the settings and the checkpoint come next.)
 */

/** Applied once at open, on writable file connections. */
export function limitWal(_client: Database.Database): void {}

/**
 * Called after a write transaction commits, about every 64th write of a
 * store (with its cull), after `setMany` and after each `purgeExpired`
 * batch. Must be cheap when there is nothing to do.
 */
export function checkpointIfLarge(_client: Database.Database): void {}
