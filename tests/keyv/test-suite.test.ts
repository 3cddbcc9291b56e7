// Keyv's own compliance suite (@keyv/test-suite: api, values, namespace,
// iterator) against the adapter, on every engine: a fresh store per test (a
// new SQLite file, or a new table in this run's PostgreSQL schema). The suite
// calls `store()` many times a test; each call is a new adapter on that
// test's store, as an app gives each Keyv its own adapter.
import { keyvApiTests, keyvIteratorTests, keyvNamespaceTest, keyvValueTests } from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { afterEach, beforeEach, describe, it } from 'vitest';
import { type KeyvBackingStore, KeyvDrizzleKv } from '../../src/keyv';
import { ENGINES, type Engine, tempDb } from './engines';

const SUITES = { api: keyvApiTests, values: keyvValueTests, namespace: keyvNamespaceTest, iterator: keyvIteratorTests };

/** Declares the four suites, each in its own block, on adapters made by `adapter()`. */
function suites(adapter: () => KeyvDrizzleKv): void {
  for (const [name, suite] of Object.entries(SUITES)) describe(name, () => suite(vitest, Keyv, adapter));
}

function onEngine(engine: Engine): void {
  if (engine.unavailable !== undefined) {
    if (engine.required) {
      it(`${engine.name} is required by DRIZZLE_KV_BACKENDS but unavailable`, () => {
        throw new Error(engine.unavailable);
      });
    } else {
      describe.skip(`${engine.name} (skipped: ${engine.unavailable})`, () => suites(() => undefined as never));
    }
    return;
  }
  describe(`${engine.name}: new KeyvDrizzleKv(store)`, () => {
    let store: KeyvBackingStore | undefined;
    beforeEach(async () => {
      store = await engine.fresh().open();
    });
    afterEach(() => engine.cleanup());
    suites(() => new KeyvDrizzleKv(store as KeyvBackingStore));
  });
}

for (const engine of ENGINES) onEngine(engine);

// The adapter opening the file itself: every store() call opens the test's file again.
describe('sqlite file: new KeyvDrizzleKv({ path })', () => {
  let path = '';
  const opened: KeyvDrizzleKv[] = [];
  beforeEach(() => {
    path = tempDb();
  });
  afterEach(async () => {
    for (const adapter of opened.splice(0)) await adapter.disconnect();
  });
  suites(() => {
    const adapter = new KeyvDrizzleKv({ path });
    opened.push(adapter);
    return adapter;
  });
});
