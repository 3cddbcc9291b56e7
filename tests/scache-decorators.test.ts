// scache as a method decorator, in both protocols: standard (TC39) decorators,
// as this project's tsconfig compiles them, and legacy `experimentalDecorators`
// (NestJS- and TypeORM-style apps), compiled here with their own options.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { KVStore, scache } from '../src';
import { builtEntry, root } from './built';
import { tempDb, tempDir, thrown } from './helpers';

let store: KVStore;
beforeEach(() => {
  store = new KVStore(tempDb());
});
afterEach(() => store.close());

describe('standard decorators', () => {
  it('keys a method by what instanceKey says tells instances apart', () => {
    const calls: string[] = [];
    class Api {
      constructor(readonly baseUrl: string) {}
      @scache({ store, instanceKey: (api: Api) => api.baseUrl })
      get(path: string): string {
        calls.push(`${this.baseUrl}${path}`);
        return `${this.baseUrl}${path}`;
      }
    }
    const a = new Api('https://a.example');
    const b = new Api('https://b.example');
    expect([a.get('/x'), b.get('/x'), a.get('/x'), new Api('https://a.example').get('/x')]).toEqual([
      'https://a.example/x',
      'https://b.example/x',
      'https://a.example/x',
      'https://a.example/x',
    ]);
    expect(calls).toEqual(['https://a.example/x', 'https://b.example/x']);
  });

  it('refuses an instance method without instanceKey when the class is defined, saying how to choose', () => {
    const err = thrown(() => {
      class Api {
        @scache({ store })
        get(path: string) {
          return path;
        }
      }
      return Api;
    });
    expect(err.code).toBe('ERR_KV_INVALID_OPTION');
    expect(err.message).toMatch(/instanceKey: \(self\) => self\.baseUrl.*instanceKey: null/);
  });

  it('shares results between instances with instanceKey: null, and needs nothing for a static method', () => {
    let calls = 0;
    class Rates {
      @scache({ store, instanceKey: null })
      current(currency: string) {
        return `${currency}:${++calls}`;
      }
      @scache({ store })
      static table(currency: string) {
        return `table ${currency}:${++calls}`;
      }
    }
    expect([new Rates().current('eur'), new Rates().current('eur')]).toEqual(['eur:1', 'eur:1']);
    expect([Rates.table('eur'), Rates.table('eur')]).toEqual(['table eur:2', 'table eur:2']);
  });

  it('refuses to decorate what is not a method', () => {
    // As a decorator of an accessor would be called: a value and a context of another kind.
    const decorate = scache({ store }) as unknown as (value: unknown, context: { kind: string; name: string }) => unknown;
    const err = thrown(() => decorate(undefined, { kind: 'accessor', name: 'field' }));
    expect(err.code).toBe('ERR_KV_INVALID_ARGUMENT');
  });
});

describe('legacy decorators (experimentalDecorators)', () => {
  const source = (path: string) => `
    import { KVStore, scache } from 'drizzle-kv';
    const store = new KVStore(${JSON.stringify(path)});
    const calls: string[] = [];
    class Api {
      constructor(readonly baseUrl: string) {}
      @scache({ store, instanceKey: (api: Api) => api.baseUrl })
      get(path: string): string {
        calls.push(this.baseUrl + path);
        return this.baseUrl + path;
      }
      @scache({ store })
      static version(): number {
        calls.push('version');
        return 3;
      }
    }
    const a = new Api('a:');
    const b = new Api('b:');
    const results = [a.get('/x'), b.get('/x'), a.get('/x'), Api.version(), Api.version()];
    console.log(JSON.stringify({ results, calls, namespaces: store.keys().map((k) => k.split('#')[0]).sort() }));
  `;
  const options: ts.CompilerOptions = {
    experimentalDecorators: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: [],
    baseUrl: root,
    paths: { 'drizzle-kv': ['dist/index.d.cts'] }, // the declarations the package ships
  };

  it('type-checks (no TS1241) and memoizes per instance and per class', () => {
    const dir = tempDir();
    const file = join(dir, 'legacy.ts');
    const path = join(dir, 'legacy.db');
    writeFileSync(file, source(path));
    const program = ts.createProgram([file], options);
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);

    const js = ts.transpileModule(source(path).replace("from 'drizzle-kv'", `from ${JSON.stringify(builtEntry())}`), {
      compilerOptions: { ...options, noEmit: false },
    }).outputText;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', js], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(out).toEqual({
      results: ['a:/x', 'b:/x', 'a:/x', 3, 3],
      calls: ['a:/x', 'b:/x', 'version'],
      namespaces: ['scache:Api.get', 'scache:Api.get', 'scache:Api.version'],
    });
  });

  it('refuses an instance method without instanceKey', () => {
    const js = ts.transpileModule(
      `import { scache } from ${JSON.stringify(builtEntry())};
       try { class Api { @scache({}) get(p: string) { return p; } } } catch (e: any) { console.log(e.code); }`,
      { compilerOptions: { ...options, noEmit: false } },
    ).outputText;
    expect(execFileSync(process.execPath, ['-e', js], { encoding: 'utf8' }).trim()).toBe('ERR_KV_INVALID_OPTION');
  });
});
