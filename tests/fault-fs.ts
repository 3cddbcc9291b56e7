// Real file-system faults for tests: a small tmpfs that fills up, and the same
// tmpfs remounted read-only under an open database. Mounting needs root (CI
// runs as root); elsewhere these tests are skipped and say so, unless
// DRIZZLE_KV_REQUIRE_FAULT_TESTS=1 (set by .ci/run), which makes a missing
// capability a failure instead of a skip.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether this process can mount a tmpfs (root on Linux, with mount available). */
export const canMount: boolean = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-mount-probe-'));
  try {
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status !== 0) return false;
    spawnSync('umount', [dir]);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

if (!canMount && process.env.DRIZZLE_KV_REQUIRE_FAULT_TESTS === '1') {
  throw new Error('DRIZZLE_KV_REQUIRE_FAULT_TESTS=1, but this process cannot mount a tmpfs (it needs root on Linux)');
}

/**
 * `it` where a small file system can be mounted; elsewhere `it.skip`, with a
 * line on stderr naming what was skipped.
 */
export function itWithFaults(name: string, fn: () => unknown, timeout?: number): void {
  if (canMount) {
    it(name, fn as () => void, timeout);
    return;
  }
  process.stderr.write(`skipped (needs root to mount a small file system): ${name}\n`);
  it.skip(name, fn as () => void);
}

/** A tmpfs of a fixed size, mounted on a fresh folder. */
export class SmallFs {
  readonly dir: string;
  #fillers = 0;

  constructor(bytes: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-smallfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', this.dir]);
  }

  /** Fills every free byte with a file of its own (removed by {@link SmallFs.free}). */
  fill(): void {
    const chunk = Buffer.alloc(64 * 1024);
    const path = join(this.dir, `filler-${this.#fillers++}`);
    writeFileSync(path, '');
    for (let size = chunk.length; size >= 1; size = Math.floor(size / 2)) {
      const piece = chunk.subarray(0, size);
      for (;;) {
        try {
          writeFileSync(path, piece, { flag: 'a' });
        } catch {
          break;
        }
      }
    }
  }

  /** Removes what {@link SmallFs.fill} wrote. */
  free(): void {
    for (let i = 0; i < this.#fillers; i++) rmSync(join(this.dir, `filler-${i}`), { force: true });
    this.#fillers = 0;
  }

  /** Remounts the file system read-only. The kernel refuses while a file on it is open for writing: close every database first. */
  readonly(): void {
    execFileSync('mount', ['-o', 'remount,ro', this.dir]);
  }

  /** Remounts it writable again. */
  writable(): void {
    execFileSync('mount', ['-o', 'remount,rw', this.dir]);
  }

  /** Unmounts and removes the folder. Close every database on it first. */
  dispose(): void {
    spawnSync('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
