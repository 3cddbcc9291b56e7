#!/usr/bin/env node
// `npm test`: builds dist/, then runs both test runners, whatever the first one gives:
// - jest: every test but the Keyv adapter's (jest.config.js);
// - vitest: the Keyv adapter's (tests/keyv/, vitest.config.mts), since
//   @keyv/test-suite is written for vitest.
//   npm test [-- <jest arguments>] [--vitest <vitest arguments>]
// Arguments go to jest, those after --vitest to vitest. With
// DRIZZLE_KV_TEST_RESULTS=<dir>, each runner's JSON report is written there
// (jest.json, vitest.json), for CI to count. Exits 1 if either runner failed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const split = args.indexOf('--vitest');
const jestArgs = split === -1 ? args : args.slice(0, split);
const vitestArgs = split === -1 ? [] : args.slice(split + 1);

const results = process.env['DRIZZLE_KV_TEST_RESULTS'] ? resolve(process.env['DRIZZLE_KV_TEST_RESULTS']) : undefined;
if (results !== undefined) {
  mkdirSync(results, { recursive: true });
  // A report left by an earlier run must not be counted for this one.
  for (const file of ['jest.json', 'vitest.json']) rmSync(join(results, file), { force: true });
  jestArgs.push('--json', `--outputFile=${join(results, 'jest.json')}`);
  vitestArgs.push('--reporter=default', '--reporter=json', `--outputFile.json=${join(results, 'vitest.json')}`);
}

/** Runs a command in the repository, its output passed through; its exit status (1 if it died of a signal). */
function run(label, command, commandArgs) {
  console.log(`\n> ${label}`);
  const { status, signal, error } = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (error) console.error(`${label}: ${error.message}`);
  if (signal) console.error(`${label}: killed by ${signal}`);
  return status ?? 1;
}

const build = run('npm run build', 'npm', ['run', '--silent', 'build']);
if (build !== 0) {
  console.error('the build failed: no test was run');
  process.exit(1);
}
const jest = run(`jest ${jestArgs.join(' ')}`.trim(), process.execPath, [join(root, 'node_modules/jest/bin/jest.js'), ...jestArgs]);
const vitest = run(`vitest run ${vitestArgs.join(' ')}`.trim(), process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...vitestArgs]);
console.log(`\njest ${jest === 0 ? 'passed' : `failed (exit ${jest})`}, vitest ${vitest === 0 ? 'passed' : `failed (exit ${vitest})`}`);
process.exit(jest === 0 && vitest === 0 ? 0 : 1);
