/**
 * The `drizzle-kv` command-line tool: look into and repair a cache from the
 * shell, on a SQLite file or a PostgreSQL or libSQL URL. Arguments are
 * parsed by `node:util`'s `parseArgs`; every command has its `--help`.
 *
 * Exit codes: 0 done; 1 nothing found (a missing key, migrations pending
 * without `--apply`); 2 a usage error; 3 refused (not confirmed, a file or
 * format the command cannot take); 4 an error of the store or database,
 * printed in one line (its code first); 5 anything else (a bug: the stack
 * is printed).
 */
import { parseArgs } from 'node:util';
import { isKVError } from '../core/errors';
import * as commands from './commands';
import { targetOf } from './open';
import type { Terminal } from './output';

/** The options every command takes. */
const COMMON = {
  store: { type: 'string', short: 's', default: 'key_value_store' },
  json: { type: 'boolean', default: false },
  'pg-schema': { type: 'string' },
  stack: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }>;

interface Command {
  readonly args: readonly string[];
  readonly options: Options;
  readonly help: string;
  run(ctx: commands.Context, args: string[], values: Record<string, string | boolean | undefined>): Promise<commands.ExitCode>;
}

const number = (text: string | boolean | undefined, what: string): number | undefined => {
  if (text === undefined || typeof text === 'boolean') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Usage(`${what} must be a positive number, got ${JSON.stringify(text)}`);
  return n;
};
const list = (text: string | boolean | undefined): string[] | undefined =>
  typeof text === 'string' ? text.split(',').map((t) => t.trim()).filter((t) => t !== '') : undefined;
const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

const COMMANDS: Record<string, Command> = {
  stores: {
    args: ['database'],
    options: {},
    help: 'Lists the stores: format version, serializer, live and expired entries, bytes, limits.',
    run: (ctx) => commands.stores(ctx),
  },
  keys: {
    args: ['database'],
    options: { prefix: { type: 'string' }, limit: { type: 'string' } },
    help: 'Prints the live keys of a store in key order (--prefix P, --limit N).',
    run: (ctx, _a, v) => commands.keys(ctx, str(v['prefix']), number(v['limit'], '--limit')),
  },
  get: {
    args: ['database', 'key'],
    options: {},
    help: 'Prints the value of a key as JSON; exit 1 if it is missing or expired.',
    run: (ctx, [key]) => commands.get(ctx, key as string),
  },
  set: {
    args: ['database', 'key', 'json'],
    options: { ttl: { type: 'string' }, tags: { type: 'string' } },
    help: "Stores a JSON value (--ttl SECONDS, --tags a,b). Quote a string: drizzle-kv set cache.db k '\"text\"'.",
    run: (ctx, [key, text], v) => commands.set(ctx, key as string, text as string, number(v['ttl'], '--ttl'), list(v['tags'])),
  },
  delete: {
    args: ['database', 'key'],
    options: {},
    help: 'Deletes a key; exit 1 if there was no live value.',
    run: (ctx, [key]) => commands.remove(ctx, key as string),
  },
  clear: {
    args: ['database'],
    options: { prefix: { type: 'string' }, yes: { type: 'boolean', short: 'y', default: false } },
    help: 'Deletes every entry (asks first, unless --yes) or those of --prefix P.',
    run: (ctx, _a, v) => commands.clear(ctx, str(v['prefix']), v['yes'] === true),
  },
  purge: { args: ['database'], options: {}, help: 'Deletes the expired rows now.', run: (ctx) => commands.purge(ctx) },
  stats: {
    args: ['database'],
    options: {},
    help: 'Shows what a store holds, its limits, and the statistics its handles persisted (stats: "persisted").',
    run: (ctx) => commands.stats(ctx),
  },
  migrate: {
    args: ['database'],
    options: { apply: { type: 'boolean', default: false } },
    help: 'Shows what is pending (exit 1 if anything is); --apply migrates it, in one transaction.',
    run: (ctx, _a, v) => commands.migrate(ctx, v['apply'] === true),
  },
  'adopt-kv-cache': {
    args: ['file'],
    options: { tables: { type: 'string' }, 'time-zone': { type: 'string' } },
    help: "Converts kv-cache (Python) tables of a SQLite file into stores (--tables a,b; --time-zone Europe/Paris, the zone its naive expiry times were written in; default: this machine's).",
    run: (ctx, _a, v) => commands.adopt(ctx, list(v['tables']), str(v['time-zone'])),
  },
  export: {
    args: ['database'],
    options: { out: { type: 'string', short: 'o' } },
    help: 'Writes the live entries of a store as JSON Lines (to --out FILE, or stdout): values, expiries and tags, losslessly.',
    run: (ctx, _a, v) => commands.exportStore(ctx, str(v['out'])),
  },
  import: {
    args: ['database'],
    options: { in: { type: 'string', short: 'i' } },
    help: 'Reads JSON Lines made by export (from --in FILE, or stdin) into a store, 1000 entries a transaction.',
    run: (ctx, _a, v) => commands.importStore(ctx, str(v['in'])),
  },
  vacuum: { args: ['file'], options: {}, help: 'Rebuilds a SQLite file without its free pages.', run: (ctx) => commands.fileUpkeep(ctx, 'vacuum') },
  checkpoint: {
    args: ['file'],
    options: {},
    help: "Copies a SQLite file's -wal into it and truncates the -wal.",
    run: (ctx) => commands.fileUpkeep(ctx, 'checkpoint'),
  },
};

/** A usage error: exit code 2. */
class Usage extends Error {}

const USAGE = `usage: drizzle-kv <command> <database> [arguments] [options]

<database> is a SQLite file path, a postgres:// URL, or a libSQL URL (libsql:, http(s):, ws(s):, file:).

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${`${name} ${c.args.map((a) => `<${a}>`).join(' ')}`.padEnd(34)}${c.help.split('. ')[0]?.replace(/\.$/, '')}`)
  .join('\n')}

options of every command:
  -s, --store NAME    the store (default key_value_store)
  --json              output as JSON, for scripts
  --pg-schema NAME    the PostgreSQL schema of the stores
  --stack             print an error's stack
  -h, --help          help (drizzle-kv <command> --help: the command's)

exit codes: 0 done, 1 nothing found, 2 usage error, 3 refused, 4 store or database error, 5 internal error`;

function commandHelp(name: string, command: Command): string {
  const own = Object.entries(command.options).map(([o, spec]) => `  ${spec.short ? `-${spec.short}, ` : ''}--${o}${spec.type === 'string' ? ' VALUE' : ''}`);
  return `usage: drizzle-kv ${name} ${command.args.map((a) => `<${a}>`).join(' ')} [options]\n\n${command.help}\n${
    own.length > 0 ? `\noptions:\n${own.join('\n')}\n` : ''
  }\nand the options of every command (drizzle-kv --help).`;
}

/** Asks a yes/no question on the terminal (never where stdin is not one). */
async function confirm(term: Terminal, question: string): Promise<boolean> {
  if (process.stdin.isTTY !== true) return false;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: term.err as NodeJS.WritableStream });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Runs the tool on `argv` (without `node` and the script). Returns the exit code. */
export async function main(argv: readonly string[], term: Terminal = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    term.out.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    term.out.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    term.err.write(`drizzle-kv: unknown command ${JSON.stringify(name)}; see drizzle-kv --help\n`);
    return 2;
  }
  let stack = false;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options: { ...COMMON, ...command.options } as Options, allowPositionals: true, strict: true });
    } catch (err) {
      throw new Usage(`${(err as Error).message}; see drizzle-kv ${name} --help`);
    }
    const { values, positionals } = parsed;
    stack = values['stack'] === true;
    if (values['help'] === true) {
      term.out.write(`${commandHelp(name, command)}\n`);
      return 0;
    }
    if (positionals.length !== command.args.length) {
      throw new Usage(`${name} takes ${command.args.map((a) => `<${a}>`).join(' ')}, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}; see drizzle-kv ${name} --help`);
    }
    const [source, ...args] = positionals as [string, ...string[]];
    const ctx: commands.Context = {
      term,
      target: targetOf(source),
      store: values['store'] as string,
      json: values['json'] === true,
      pgSchema: str(values['pg-schema']),
      confirm: (question) => confirm(term, question),
    };
    return await command.run(ctx, args, values as Record<string, string | boolean | undefined>);
  } catch (err) {
    const [code, text] =
      err instanceof Usage ? [2, err.message] : err instanceof commands.Refused ? [3, err.message] : isKVError(err) ? [4, `${err.code}: ${err.message}`] : [5, String(err)];
    term.err.write(`drizzle-kv ${name}: ${text}\n`);
    if (stack || code === 5) term.err.write(`${(err as Error)?.stack ?? ''}\n`);
    return code;
  }
}

/** The package's version, set by the build. */
declare const __VERSION__: string;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`drizzle-kv: ${String((err as Error)?.stack ?? err)}\n`);
      process.exitCode = 5;
    },
  );
}
