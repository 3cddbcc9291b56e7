/**
 * Every ```ts block of the README runs, against the built package, in a
 * fresh folder. A line `expr; // => expected` asserts that `expr` deeply
 * equals `expected`, so the documented results cannot rot.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { Client } from 'pg';
import { builtEntry, root } from './built';
import { tempDir } from './helpers';
import { pgUrl, uniqueName } from './servers';

interface Block {
  title: string;
  code: string;
}

function readmeBlocks(): Block[] {
  const blocks: Block[] = [];
  let heading = '';
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    if (line.trim() === '```ts') {
      const start = i + 1;
      while (i < lines.length && lines[++i]?.trim() !== '```');
      blocks.push({ title: `${heading} (README line ${start})`, code: lines.slice(start, i).join('\n') });
    }
  }
  return blocks;
}

/** `expr; // => expected` becomes an assertion. */
function withAssertions(code: string): string {
  return code
    .split('\n')
    .map((line) => {
      const m = /^(\s*)(.+?);\s*\/\/ => (.+)$/.exec(line);
      return m ? `${m[1]}__expect(${m[2]}, ${m[3]}, ${JSON.stringify(m[2])});` : line;
    })
    .join('\n');
}

const prelude = `const __assert = require('node:assert');
function __expect(actual, expected, what) { __assert.deepStrictEqual(actual, expected, what); }
`;

const blocks = readmeBlocks();

describe('README examples', () => {
  it('has examples to run', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  const url = pgUrl();
  const onPg = (block: Block) => block.code.includes("'drizzle-kv/pg'");
  // A PostgreSQL example runs in a database of its own, dropped afterwards; without a server it is skipped.
  const runnable = blocks.filter((b) => !onPg(b) || url !== undefined);
  const skipped = blocks.filter((b) => onPg(b) && url === undefined);
  if (skipped.length > 0) it.skip.each(skipped.map((b) => [b.title] as const))('%s (no PostgreSQL server)', () => {});

  it.each(runnable.map((b) => [b.title, b] as const))('%s', async (_title, block) => {
    builtEntry();
    let database: string | undefined;
    let env: NodeJS.ProcessEnv = {};
    if (onPg(block) && url !== undefined) {
      database = uniqueName('kvreadme');
      await admin(url, `CREATE DATABASE ${database}`);
      const target = new URL(url);
      target.pathname = `/${database}`;
      env = { DATABASE_URL: target.toString() };
    }
    try {
      runBlock(block, env);
    } finally {
      if (database !== undefined) await admin(url as string, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });
});

async function admin(url: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function runBlock(block: Block, env: NodeJS.ProcessEnv): void {
  {
    const dir = tempDir();
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'drizzle-kv'), 'dir');
    // What an app using drizzle-kv has installed beside it.
    mkdirSync(join(dir, 'node_modules', '@libsql'));
    for (const dep of ['drizzle-orm', 'better-sqlite3', 'pg', '@libsql/client', 'keyv']) symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
    const js = ts.transpileModule(withAssertions(block.code), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    // Wrapped so that examples may use top-level await.
    const program = `${prelude}(async () => {\n${js}\n})().catch((err) => { console.error(err); process.exitCode = 1; });\n`;
    writeFileSync(join(dir, 'example.js'), program);
    execFileSync(process.execPath, ['example.js'], { cwd: dir, env: { ...process.env, HOME: dir, ...env }, stdio: 'pipe' });
  }
}
