import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root folder. */
export const root = join(__dirname, '..');

/** The built package entry (the CommonJS bundle); tests that spawn processes use it, as users do. */
export function builtEntry(): string {
  const entry = join(root, 'dist/index.cjs');
  if (!existsSync(entry)) throw new Error('dist/ is missing: run the tests with `npm test`, which builds first');
  return entry;
}
