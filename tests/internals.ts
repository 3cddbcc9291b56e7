// The library's internal modules that test children and fixture scripts drive
// directly (a migrator with a "next" format, a raw connection), bundled by
// scripts/build.mjs into tests/.built/internals.cjs. Not part of the package.
export { CURRENT_FORMAT, ensureStore } from '../src/sqlite/migrator';
export { databaseSteps } from '../migrations/database';
export { storeSteps } from '../migrations/store';
export { openConnection } from '../src/sqlite/connection';
