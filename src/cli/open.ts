/**
 * Which engine a command-line target is, and how to open it. The engines'
 * bundles are loaded from beside the tool's own (`dist/sqlite.cjs`,
 * `dist/pg.cjs`, `dist/libsql.cjs`) and only the one a target needs: the
 * tool starts as fast as the library, and a SQLite user needs no server driver.
 */
import { join } from 'node:path';
import type { AsyncKVDatabase } from '../async/database';
import { KVError } from '../core/errors';

/** What the tool was pointed at. */
export interface Target {
  readonly engine: 'sqlite' | 'pg' | 'libsql';
  /** The path or URL as given. */
  readonly source: string;
}

/** A target from its text: a PostgreSQL or libSQL URL, or else a SQLite file path. */
export function targetOf(source: string): Target {
  if (/^postgres(ql)?:\/\//i.test(source)) return { engine: 'pg', source };
  if (/^(libsql|wss?|https?|file):/i.test(source)) return { engine: 'libsql', source };
  return { engine: 'sqlite', source };
}

/** The async entries' `openDatabase`, by the shape the tool uses. */
type OpenDatabase = (source: string, options?: Record<string, unknown>) => Promise<AsyncKVDatabase>;

/** An engine's bundle, beside this one (a plain `require`: esbuild leaves it to run time). */
function entry(name: 'sqlite' | 'pg' | 'libsql'): { openDatabase: OpenDatabase } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(__dirname, `${name}.cjs`)) as { openDatabase: OpenDatabase };
}

/** Options the tool opens a target with. */
export interface OpenOptions {
  /** Open a SQLite file read-only (commands that only read: nothing is created or migrated). */
  readonly readonly?: boolean;
  /** The PostgreSQL schema (namespace) of the stores. */
  readonly pgSchema?: string;
}

/** Opens the target's database. */
export async function openTarget(target: Target, options: OpenOptions = {}): Promise<AsyncKVDatabase> {
  if (target.engine === 'pg') return entry('pg').openDatabase(target.source, options.pgSchema === undefined ? {} : { pgSchema: options.pgSchema });
  if (options.pgSchema !== undefined) throw new KVError('ERR_KV_INVALID_OPTION', '--pg-schema applies to a PostgreSQL URL only');
  if (target.engine === 'libsql') return entry('libsql').openDatabase(target.source);
  return entry('sqlite').openDatabase(target.source, options.readonly === true ? { readonly: true } : {});
}
