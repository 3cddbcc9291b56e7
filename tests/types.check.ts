/**
 * Type tests: this file is only compiled (`npm run typecheck`), never run.
 * A wrong inferred type, or an error that stops being one, fails the build.
 */
import { type KVDatabase, type KVStore, type Memoized, scache } from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

declare const store: KVStore<{ name: string }>;

// get: the value type, undefined, or the default's type.
const _plain = store.get('k');
expectType<Equal<typeof _plain, { name: string } | undefined>>();
const _withDefault = store.get('k', null);
expectType<Equal<typeof _withDefault, { name: string } | null>>();
// @ts-expect-error a value of the wrong type
store.set('k', { nom: 'x' });
// @ts-expect-error a ttl must be a number
store.set('k', { name: 'x' }, '60');
expectType<Equal<ReturnType<typeof store.items>, [string, { name: string }][]>>();
expectType<Equal<ReturnType<KVDatabase['store']>, KVStore<unknown>>>();

// scache keeps parameters and return types, promises included.
const fetchUser = scache({ store: store as KVStore })(async function fetchUser(id: number, full?: boolean) {
  return { id, full: full ?? false };
});
expectType<Equal<Parameters<typeof fetchUser>, [id: number, full?: boolean]>>();
expectType<Equal<ReturnType<typeof fetchUser>, Promise<{ id: number; full: boolean }>>>();
expectType<Equal<ReturnType<typeof fetchUser.keyFor>, string>>();
expectType<Equal<ReturnType<typeof fetchUser.clear>, number>>();
// @ts-expect-error wrong argument type
void fetchUser('1');

function add(a: number, b: number): number {
  return a + b;
}
const cachedAdd: Memoized<typeof add> = scache()(add);
expectType<Equal<ReturnType<typeof cachedAdd>, number>>();
void cachedAdd;

// keyFunc sees the argument tuple it is declared for.
scache<[string, number?]>({ keyFunc: (_fn, args) => args[0] });

// The decorator form type-checks on methods and keeps their signature.
class Api {
  @scache({ ttl: 60 })
  async load(id: string): Promise<string> {
    return id;
  }
}
expectType<Equal<ReturnType<Api['load']>, Promise<string>>>();
