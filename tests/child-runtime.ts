// A copy of what a child process needs to load the built package, in a
// world-readable temp folder: the repository may lie below a folder only its
// owner may enter (a clone in a `mktemp -d` folder), from where an
// unprivileged child (user 65534) could load neither the package nor the
// driver; and a test of a missing or unbuilt driver needs a folder where
// better-sqlite3 is absent or lacks its native addon.
import { chmodSync, copyFileSync, cpSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { builtEntry, root } from './built';
import { tempDir } from './helpers';

/** What the folder holds of better-sqlite3: all it loads, its JavaScript only (an install whose build failed), or nothing. */
export type DriverCopy = 'built' | 'unbuilt' | 'none';

const made = new Map<DriverCopy, string>();

/**
 * A folder holding the built entry as `index.cjs` and, in `node_modules`,
 * better-sqlite3 as `driver` says, with the packages it requires at run time
 * (`bindings`, which requires `file-uri-to-path`). Made once per test file
 * and kind.
 */
export function childRuntime(driver: DriverCopy = 'built'): string {
  const existing = made.get(driver);
  if (existing !== undefined) return existing;
  const dir = tempDir();
  chmodSync(dir, 0o755);
  copyFileSync(builtEntry(), join(dir, 'index.cjs'));
  if (driver !== 'none') {
    const packageDir = (name: string, from: string) => dirname(require.resolve(`${name}/package.json`, { paths: [from] }));
    const sqlite = packageDir('better-sqlite3', root);
    const bindings = packageDir('bindings', sqlite);
    // Of better-sqlite3, what loads: its JavaScript and (built) the addon; not its C sources nor the build's intermediate files.
    const addon = driver === 'built' ? '|build|build/Release|build/Release/better_sqlite3\\.node' : '';
    const loaded = new RegExp(`^(|package\\.json|lib(/.*)?${addon})$`);
    cpSync(sqlite, join(dir, 'node_modules/better-sqlite3'), {
      recursive: true,
      filter: (path) => loaded.test(relative(sqlite, path).split(sep).join('/')),
    });
    cpSync(bindings, join(dir, 'node_modules/bindings'), { recursive: true });
    cpSync(packageDir('file-uri-to-path', bindings), join(dir, 'node_modules/file-uri-to-path'), { recursive: true });
  }
  made.set(driver, dir);
  return dir;
}
