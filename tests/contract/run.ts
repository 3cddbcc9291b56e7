/**
 * Runs the whole contract on one backend: the store, database and scache
 * contracts and the model test. An unavailable backend is skipped visibly
 * (every test listed as skipped, the reason in the title), or, when
 * `DRIZZLE_KV_BACKENDS` requires it, fails with one test saying why.
 */
import { type Backend, isRequired } from './backends';
import { describeDatabaseContract } from './database-contract';
import { describeModelContract } from './model-contract';
import { describeScacheContract } from './scache-contract';
import { describeStoreContract } from './store-contract';
import { describeUpkeepContract } from './upkeep-contract';

function describeAll(backend: Backend): void {
  describeStoreContract(backend);
  describeUpkeepContract(backend);
  describeDatabaseContract(backend);
  describeScacheContract(backend);
  describeModelContract(backend);
}

export function runContract(backend: Backend): void {
  const unavailable = backend.available();
  if (unavailable === undefined) {
    describe(`${backend.name} (${backend.mode})`, () => {
      afterAll(() => backend.cleanup());
      describeAll(backend);
    });
  } else if (isRequired(backend)) {
    describe(`${backend.name} (${backend.mode})`, () => {
      it('is available, as DRIZZLE_KV_BACKENDS requires', () => {
        throw new Error(
          `backend ${backend.name} is required by DRIZZLE_KV_BACKENDS=${process.env['DRIZZLE_KV_BACKENDS']} but unavailable: ${unavailable}`,
        );
      });
    });
  } else {
    // Jest lists no titles for a file whose every test is skipped: say why on the console too.
    process.stderr.write(`\n${backend.name}: contract SKIPPED: ${unavailable} (DRIZZLE_KV_BACKENDS=${backend.name} makes this a failure)\n`);
    describe.skip(`${backend.name} (${backend.mode}) — skipped: ${unavailable}`, () => describeAll(backend));
  }
}
