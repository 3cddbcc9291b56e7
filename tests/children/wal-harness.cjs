// Driver of the -wal growth test (tests/reliability/wal-growth.test.ts) and
// of the WAL phase of scripts/stress.mjs: fills a store of about 18 MiB,
// starts reader processes (wal-reader.cjs), whose read transactions overlap,
// and one writer process (wal-writer.cjs), and samples the size of the -wal
// file until the time is up. Not a child itself; it lives next to the
// children it drives.
'use strict';
const { performance } = require('node:perf_hooks');
const { spawn } = require('node:child_process');
const { statSync } = require('node:fs');
const { join } = require('node:path');
const { integrity, lineFrom, lines } = require('./harness.cjs');

const children = __dirname;
const MiB = 1024 * 1024;
/**
 * The bound src/wal.ts documents (WAL_BOUND_BYTES), for scripts/stress.mjs,
 * which runs on the built package; the test checks that the two agree.
 */
const WAL_BOUND_BYTES = 64 * MiB;
const sizeOf = (file) => statSync(file, { throwIfNoEntry: false })?.size ?? 0;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The i-th key of the store: `k:000000` … */
const keyOf = (i) => `k:${String(i).padStart(6, '0')}`;

/**
 * Writes `keys` entries of about 1 KiB (14 000: an 18.5 MiB file) into the
 * store `wal` of a new file at `path`, through the built package, and
 * closes it (the last connection checkpoints: the -wal starts empty).
 */
function fillStore({ entry, path, keys = 14_000 }) {
  const { KVStore } = require(entry);
  const store = new KVStore(path, { table: 'wal' });
  try {
    for (let lo = 0; lo < keys; lo += 1000) {
      const n = Math.min(1000, keys - lo);
      store.setMany(Array.from({ length: n }, (_, j) => [keyOf(lo + j), { i: lo + j, pad: 'x'.repeat(1000) }]));
    }
  } finally {
    store.close();
  }
  return sizeOf(path);
}

function start(script, args) {
  const child = spawn(process.execPath, [join(children, script), ...args]);
  const ready = lineFrom(child, 'ready');
  const done = lines(child);
  return { child, ready, done };
}

/** The last line a child printed, parsed, or a problem. */
async function reportOf(name, started, problems) {
  const { lines: out, code, stderr } = await started.done;
  try {
    return { ...JSON.parse(out[out.length - 1]), stderr };
  } catch {
    problems.push(`${name} exited with ${code} without a report: ${stderr.slice(0, 500)}`);
    return undefined;
  }
}

/**
 * Runs the readers and the writer against the store at `path` (filled by
 * {@link fillStore}) for `seconds`, and on, up to `maxSeconds`, until the
 * writes have put at least `minAppendedBytes` through the -wal. Samples the
 * -wal size every `sampleMs`.
 *
 * `reads`: 'long' (the readers' mix
 * includes `items()`, one read transaction over the whole store) or 'short'
 * (only reads whose transactions last a few ms). `onSecond(elapsedMs,
 * walBytes)` is called about once a second.
 *
 * Resolves with { maxWalBytes, appendedBytes, truncations, storeBytes,
 * ms, writer, readers, problems, integrity }: writer and readers are the
 * children's reports (plus what each printed to stderr), appendedBytes the
 * sum of the -wal's growth between samples (a lower bound on what was
 * written to it), truncations how often it was seen to shrink, problems
 * every error a child reported and every child that ended without a report.
 */
async function runWalGrowth({
  entry, path, keys = 14_000, readers = 4, seconds = 8, maxSeconds = seconds, minAppendedBytes = 0,
  reads = 'long', batchEvery = 20, batchSize = 100, seed = 1, sampleMs = 20, onSecond = () => {},
}) {
  const wal = `${path}-wal`;
  const problems = [];
  const started = [];
  try {
    // All at once: starting a process costs more than the run's first second under load. The readers read
    // as soon as they are open; their passes (of random kinds and lengths) fall out of step at once.
    for (let r = 0; r < readers; r++) started.push(start('wal-reader.cjs', [entry, path, String(keys), String(seed + r), reads]));
    const writer = start('wal-writer.cjs', [entry, path, String(keys), String(seed + 1000), String(batchEvery), String(batchSize)]);
    started.push(writer);
    await Promise.all(started.map((s) => s.ready));
    writer.child.stdin.write('go\n');

    const t0 = performance.now();
    let last = sizeOf(wal);
    let maxWalBytes = last;
    let appendedBytes = 0;
    let truncations = 0;
    let nextSecond = 1000;
    for (;;) {
      await sleep(sampleMs);
      const size = sizeOf(wal);
      if (size >= last) {
        appendedBytes += size - last;
      } else {
        truncations++;
        appendedBytes += size;
      }
      last = size;
      maxWalBytes = Math.max(maxWalBytes, size);
      const elapsed = performance.now() - t0;
      if (elapsed >= nextSecond) {
        nextSecond += 1000;
        onSecond(elapsed, size);
      }
      if (elapsed >= maxSeconds * 1000 || (elapsed >= seconds * 1000 && appendedBytes >= minAppendedBytes)) break;
    }
    const ms = performance.now() - t0;
    for (const s of started) s.child.stdin.end();
    const writerReport = await reportOf('writer', writer, problems);
    const readerReports = [];
    for (let r = 0; r < readers; r++) readerReports.push(await reportOf(`reader ${r}`, started[r], problems));
    for (const [name, report] of [['writer', writerReport], ...readerReports.map((rep, r) => [`reader ${r}`, rep])]) {
      for (const e of report?.errors ?? []) problems.push(`${name}: ${e.code} ${e.message}`);
    }
    return {
      maxWalBytes, appendedBytes, truncations, storeBytes: sizeOf(path), ms,
      writer: writerReport, readers: readerReports, problems, integrity: integrity(path),
    };
  } finally {
    for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  }
}

module.exports = { MiB, WAL_BOUND_BYTES, fillStore, runWalGrowth };
