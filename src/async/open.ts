import { STORE_KEYS as STORE_OPTION_KEYS, assertOptionsObject, type ResolvedStoreOptions, resolveStoreOptions } from '../core/options';
import { DEFAULT_STORE_NAME, assertStoreName } from '../core/names';
import type { DatabaseBackend } from '../core/ports';
import { StoreRules } from '../core/rules';
import { AsyncKVStore } from './store';

/** The options every engine's `openStore` takes besides its own: the table name and the store's options. */
const STORE_KEYS = ['table', ...STORE_OPTION_KEYS] as const;

/**
 * Splits the options of an engine's `openStore(source, options)` into the
 * store's (validated) and the engine's (`engineKeys`, validated by the
 * engine). Unknown keys are refused, naming every known one.
 */
export function splitStoreOptions(
  options: unknown,
  engineKeys: readonly string[],
): { table: string; store: ResolvedStoreOptions; engine: Record<string, unknown> } {
  const given = options ?? {};
  assertOptionsObject(given, [...STORE_KEYS, ...engineKeys]);
  const store: Record<string, unknown> = {};
  const engine: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    if (key === 'table') continue;
    if ((STORE_KEYS as readonly string[]).includes(key)) store[key] = value;
    else engine[key] = value;
  }
  const { table = DEFAULT_STORE_NAME } = given;
  return { table: table as string, store: resolveStoreOptions(store), engine };
}

/**
 * Opens the store `table` on a database backend the store owns: closing the
 * store closes the backend (and the connection or pool it opened). A failed
 * open closes it too, so nothing is left behind.
 */
export async function openOwnedStore<V>(backend: DatabaseBackend, table: string, options: ResolvedStoreOptions): Promise<AsyncKVStore<V>> {
  try {
    assertStoreName(table, backend.names);
    const store = await backend.openStore(table, options);
    return AsyncKVStore.open<V>({
      name: table,
      rules: new StoreRules(options, backend.capabilities),
      backend: {
        repo: store.repo,
        limits: store.limits,
        setLimits: (limits) => store.setLimits(limits),
        classify: (err, operation) => store.classify(err, operation),
        transaction: (fn) => store.transaction(fn),
        close: async () => {
          try {
            await store.close();
          } finally {
            await backend.close();
          }
        },
      },
    });
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw backend.classify(err, `open store "${table}"`);
  }
}
