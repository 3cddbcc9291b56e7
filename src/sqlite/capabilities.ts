import type { Capabilities } from '../core/rules';

/** What SQLite (and libSQL, its fork) holds: keys may contain U+0000, which is text like any other there. */
export const SQLITE_CAPABILITIES: Capabilities = { engine: 'SQLite', nulInKeys: true };
