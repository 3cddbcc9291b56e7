/**
 * What drizzle-kv uses of an app's better-sqlite3 `Database`. Described by
 * its shape, so that the package's types need neither the driver's type
 * declarations nor a particular installed copy of the driver: any
 * better-sqlite3 `Database` of a supported version fits.
 */
export interface SqliteClient {
  readonly open: boolean;
  readonly name: string;
  readonly memory: boolean;
  readonly readonly: boolean;
  readonly inTransaction: boolean;
  prepare(source: string): unknown;
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction(fn: (...args: never[]) => unknown): unknown;
  close(): unknown;
}

/**
 * An app's own connection to share: a better-sqlite3 `Database`, or a Drizzle
 * database made on one (`drizzle(...)` from `drizzle-orm/better-sqlite3`).
 */
export type ConnectionSource = SqliteClient | { readonly $client: SqliteClient };
