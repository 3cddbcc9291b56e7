// The drizzle-kv demo: a small tour against a local SQLite file.
//   npm run demo                  (uses ./drizzle-kv-demo.db)
//   node examples/demo.mjs PATH   (any other file)
// Run it twice: the file persists between runs.
import { KVDatabase, KVStore, isKVError, scache } from 'drizzle-kv';

const path = process.argv[2] ?? 'drizzle-kv-demo.db';
const show = (label, value) => console.log(`${label.padEnd(34)} ${JSON.stringify(value)}`);

console.log(`drizzle-kv demo on ${path}\n`);

// A store is one table of the file; 'key_value_store' by default, as in kv-cache.
// (In TypeScript, `using store = new KVStore(path)` closes it at the end of the block.)
const store = new KVStore(path);
try {
  store.set('user:1', { name: 'Alice', age: 30 });
  store.set('user:2', { name: 'Bob', age: 25 });
  store.set('session:abc', { token: 'xyz' }, 3600); // expires in an hour
  show("get('user:1')", store.get('user:1'));
  show("get('no_key', 0)", store.get('no_key', 0));
  show("keys({ prefix: 'user:' })", store.keys({ prefix: 'user:' }));
  show("ttl('session:abc') (seconds)", Math.round(store.ttl('session:abc')));
  show('runs of this demo (incr)', store.incr('demo:runs'));
  show("add('user:1', …) (already there)", store.add('user:1', { name: 'Mallory' }));
  show('size', store.size);

  try {
    store.set('when', new Map([['a', 1]]));
  } catch (err) {
    if (isKVError(err)) show('a Map as JSON is refused', err.code);
  }
} finally {
  store.close();
}

// Many named stores in one file, sharing one connection.
const db = new KVDatabase(path);
try {
  const prefs = db.store('preferences');
  const events = db.store('events', { serializer: 'v8' }); // keeps Dates, Maps, BigInts
  prefs.set('theme', 'dark');
  events.set('last-run', { at: new Date(), tags: new Set(['demo']) });
  show('events.get("last-run").at is a Date', events.get('last-run').at instanceof Date);
  db.transaction(() => {
    prefs.incr('saves');
    events.set('last-save', { at: new Date() });
  });
  show('stores in the file', db.stores().map((s) => `${s.name} (format ${s.version}, ${s.serializer})`));
} finally {
  db.close();
}

// Function caching: the second call is answered from the file, also in the next run.
{
  const store = new KVStore(path, 'memo');
  let computed = 0;
  const slowSquare = scache({ store, ttl: 600 })(function slowSquare(n) {
    computed++;
    return n * n;
  });
  show('slowSquare(12), twice', [slowSquare(12), slowSquare(12)]);
  show('computed (0 on later runs)', computed);
  show('its key', slowSquare.keyFor(12));
  store.close();
}

console.log('\nRun it again: the counter goes on, because the store lives in the file.');
