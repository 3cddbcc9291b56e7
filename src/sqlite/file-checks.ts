import { type Stats, accessSync, chmodSync, constants, statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { KVError, isKVError } from '../core/errors';

// Checks on the file system around a database path, for openConnection: what
// SQLite does not check before it opens a path, and what it does not say when
// an open fails. Only assertDatabasePath runs on every open (one stat); the
// rest runs when a database file is not writable by its owner, or after an
// open failed.

/** The `stat` of a database file, taken before it is opened. @internal */
export type DatabaseFile = Stats;

/** What a path that is not a regular file is, in words. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The `stat` of the database file at `path` (following symbolic links), or
 * `undefined` when nothing is there yet (the open creates it).
 *
 * Refuses, with `ERR_KV_CANT_OPEN`, a path that is there but is not a
 * regular file: SQLite would open a FIFO, a device or a socket as if it were
 * one, read or write it, and create its `-journal` or `-wal` beside it (in
 * `/dev`, for `/dev/null`).
 *
 * @throws the `stat`'s own error when the path cannot be looked at (a parent
 *   that is a file, a folder that may not be searched).
 * @internal
 */
export function assertDatabasePath(path: string): DatabaseFile | undefined {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (stats !== undefined && !stats.isFile()) {
    throw new KVError('ERR_KV_CANT_OPEN', `open ${path}: it is ${kindOf(stats)}, not a regular file, so it cannot hold a database`);
  }
  return stats;
}

/**
 * Gives the owner write permission back on the `-wal` and `-shm` files of a
 * database file that its owner may not write (`file` is its `stat`, taken
 * before the open), after an open of it.
 *
 * SQLite creates those files with the database file's permission bits. A
 * read-only open of a `chmod 444` file (or a writable open, which SQLite then
 * turns into a read-only one) so leaves a `-shm` of mode 0444, and SQLite
 * keeps that file after the last connection closes. Once the database file
 * is writable again, every writable open finds the `-shm` it cannot write,
 * and SQLite makes the whole connection read-only: each write fails with
 * `ERR_KV_READONLY`, for good. Adding the owner's write bit to the files
 * prevents that and changes nothing for readers (the owner could always add
 * it). They are changed in place, never removed: another process may be
 * using them.
 *
 * Does nothing for a file its owner may write (SQLite's copies of its bits
 * are writable then), so the ordinary open pays nothing. Best effort: a file
 * that cannot be changed (another user's, a read-only file system) is left
 * as it is.
 *
 * @internal
 */
export function keepSideFilesWritable(path: string, file: DatabaseFile): void {
  const euid = process.geteuid?.();
  // Without POSIX owners (Windows) there are no such bits to repair.
  if (euid === undefined || (file.mode & 0o200) !== 0) return;
  for (const suffix of ['-shm', '-wal']) {
    const side = `${path}${suffix}`;
    try {
      const stats = statSync(side, { throwIfNoEntry: false });
      // As root, SQLite gives the files it creates the database file's owner: root repairs those too.
      if (stats === undefined || !stats.isFile() || (stats.mode & 0o200) !== 0 || (stats.uid !== euid && euid !== 0)) continue;
      chmodSync(side, (stats.mode & 0o7777) | 0o200);
    } catch {
      // Left as it is: the open itself succeeded or failed on its own terms.
    }
  }
}

/** The driver's (or the file system's) error code of `err`, if it has one. */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The nearest folder of `path` that exists: its own, or the first ancestor there (its folders are not created yet). */
function existingFolder(path: string): string {
  let folder = dirname(path);
  for (;;) {
    let stats: Stats | undefined;
    try {
      stats = statSync(folder, { throwIfNoEntry: false });
    } catch {
      return folder;
    }
    const parent = dirname(folder);
    if (stats !== undefined || parent === folder) return folder;
    folder = parent;
  }
}

/** Whether the file system holding `folder` is mounted read-only (`access(2)` answers EROFS before it looks at permissions). */
function isReadOnlyFileSystem(folder: string): boolean {
  try {
    accessSync(folder, constants.W_OK);
    return false;
  } catch (err) {
    return codeOf(err) === 'EROFS';
  }
}

/** Whether the file system holding `folder` has no block (or no inode) left for this process. */
function isFull(folder: string): boolean {
  try {
    const fs = statfsSync(folder);
    // Root may use the blocks a file system reserves for it; other users only the available ones. A file
    // system without blocks or inodes at all (/proc, sysfs) is not full: it holds no files.
    const free = process.geteuid?.() === 0 ? fs.bfree : fs.bavail;
    return (fs.blocks > 0 && free === 0) || (fs.files > 0 && fs.ffree === 0);
  } catch {
    return false;
  }
}

/** The driver's words, for the end of a message that explains them. */
function driverWords(err: unknown): string {
  const code = codeOf(err);
  const message = (err as Error | null)?.message ?? String(err);
  return code === undefined || message.includes(code) ? message : `${message}, ${code}`;
}

/**
 * Explains an open of `path` that failed with `err`, when the explanation
 * lies outside the file: a read-only file system, a full disk, a folder
 * that does not allow SQLite's `-wal` and `-shm` files. Returns `undefined`
 * when none applies (the caller maps the driver's error as usual).
 *
 * Runs only after a failure, so the checks it makes (`access`, `statfs`)
 * cost an ordinary open nothing. The driver's error is kept as `cause`.
 *
 * @param readonly - whether the open was read-only (the messages differ)
 * @param exists - whether the file was there before the open
 * @internal
 */
export function explainOpenFailure(err: unknown, path: string, readonly: boolean, exists: boolean): KVError | undefined {
  if (isKVError(err)) return undefined;
  const code = codeOf(err) ?? '';
  // What can come of the file system around the file: SQLite's I/O, open and read-only errors, and the errors
  // of creating the folders (mkdir -p reports ENOENT on a read-only file system). Not errors about the file's
  // content (NOTADB, CORRUPT, BUSY), nor a path that cannot be (a parent that is a file).
  if (!/^(SQLITE_(IOERR|CANTOPEN|FULL|READONLY)|EROFS$|ENOSPC$|EIO$|ENOENT$)/.test(code)) return undefined;
  // A read-only open of a file that is not there fails for that reason alone, whatever the file system.
  if (readonly && !exists) return undefined;
  const folder = existingFolder(path);
  const sqliteSaysReadOnly = code.startsWith('SQLITE_READONLY');
  if (isReadOnlyFileSystem(folder)) {
    const need = readonly
      ? 'a read-only open of a WAL file needs its -shm file beside it, and none can be created there'
      : 'a writable open needs to create and write files there';
    // SQLite's own "read-only" stays ERR_KV_READONLY; whatever it called the refused write or create is an I/O failure.
    return new KVError(
      sqliteSaysReadOnly ? 'ERR_KV_READONLY' : 'ERR_KV_IO',
      `open ${path}: the file system of ${folder} is mounted read-only (EROFS); ${need} (${driverWords(err)})`,
      { cause: err },
    );
  }
  if (!sqliteSaysReadOnly && isFull(folder)) {
    return new KVError('ERR_KV_FULL', `open ${path}: the disk is full (no free space on the file system of ${folder}); free space, then retry (${driverWords(err)})`, {
      cause: err,
    });
  }
  if (code === 'SQLITE_READONLY_DIRECTORY') {
    const message = readonly
      ? 'a read-only open of a WAL file needs its -shm file, and the folder does not allow creating one; ' +
        'open it while the process that writes it runs, or from an account that may write the folder'
      : `a writable open of a WAL file needs to create its -wal and -shm files beside it, and the folder ${dirname(path)} does not allow it; ` +
        'allow this account to write the folder, or open the file with readonly: true while the process that writes it runs';
    return new KVError('ERR_KV_CANT_OPEN', `open ${path}: ${message}`, { cause: err });
  }
  return undefined;
}
