// A PostgreSQL server of a test's own, from the local binaries (as
// scripts/start-postgres.sh makes one), for what the shared server must not
// suffer: being restarted in the middle of a run.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The directory holding initdb and pg_ctl, or `undefined` when this machine has none. */
export function postgresBinaries(): string | undefined {
  const candidates = ['/usr/lib/postgresql'].filter(existsSync).flatMap((base) =>
    readdirSync(base)
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => join(base, version, 'bin')),
  );
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

export interface ThrowawayPostgres {
  readonly url: string;
  /** Stops the server (fast: connections are cut) and starts it again on the same port. */
  restart(): void;
  /** Stops it for good and removes its files. */
  stop(): void;
}

/** Starts a server in a temp folder on a free loopback port; durability off (tests only). */
export function startPostgres(bin: string): ThrowawayPostgres {
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-kv-pg-'));
  // initdb refuses root: the server runs as the postgres user then.
  const asServer = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asServer.length > 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const run = (tool: string, args: string[]) => {
    const [command, ...rest] = [...asServer, join(bin, tool), ...args];
    execFileSync(command as string, rest, { cwd: dir, stdio: 'pipe' });
  };
  run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  let port = 0;
  const start = () =>
    run('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start', '-o',
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`]);
  for (let attempt = 0; ; attempt++) {
    port = 20000 + Math.floor(Math.random() * 40000);
    try {
      start();
      break;
    } catch (err) {
      if (attempt === 7) throw err;
    }
  }
  const stop = () => run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart() {
      stop();
      start();
    },
    stop() {
      try {
        stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
