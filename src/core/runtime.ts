/**
 * The oldest Node.js this library runs on, checked when it loads: it loads
 * Node's own modules on first use with `process.getBuiltinModule` (20.16),
 * which keeps them off the start of a CLI process that never needs them.
 * Without the check, an older Node.js fails later, at some first call, with
 * "process.getBuiltinModule is not a function".
 */
export const MIN_NODE_VERSION = '20.16.0';

/** Throws, naming both versions, on a Node.js older than {@link MIN_NODE_VERSION}. */
export function assertRuntime(): void {
  if (typeof process.getBuiltinModule !== 'function') {
    throw new Error(`drizzle-kv needs Node.js ${MIN_NODE_VERSION} or later; this is Node.js ${process.versions.node}`);
  }
}
