import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root folder. */
export const root = join(__dirname, '..');

/** The built CommonJS entry; tests that spawn processes use the built package, as users do. */
export function builtEntry(): string {
  const entry = join(root, 'dist/src/index.js');
  if (!existsSync(entry)) throw new Error('dist/ is missing: run the tests with `npm test`, which builds first');
  return entry;
}
