/**
 * One version step of an on-disk format level.
 *
 * Step `n` takes a table (or file) from version `n - 1` to version `n`.
 * Per-store statements are written for the template table name and are
 * applied with the real store name in its place.
 */
export interface MigrationStep {
  /** The format version this step produces. Versions start at 1 and have no gaps. */
  readonly version: number;
  /** drizzle-kit's tag for the SQL file the step comes from. */
  readonly tag: string;
  /** The statements, in order. */
  readonly statements: readonly string[];
}
