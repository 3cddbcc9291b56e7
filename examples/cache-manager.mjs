// cache-manager 7 on Keyv on drizzle-kv: a cache kept in a SQLite file that
// several processes share.
//   npm run build && node examples/cache-manager.mjs [PATH]   (default ./cache-manager-demo.db)
// Needs `npm install drizzle-kv better-sqlite3 keyv cache-manager`. The second
// half starts a second process on the same file: it sees this one's entries
// at once, and this one sees its writes.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { KeyvDrizzleKv } from 'drizzle-kv/keyv';

const path = process.argv[2] ?? 'cache-manager-demo.db';
const show = (label, value) => console.log(`${label.padEnd(36)} ${JSON.stringify(value)}`);

// One adapter per Keyv; namespace 'app' keeps this cache's keys apart ('app:...') in the file's 'keyv' table.
const cache = createCache({ stores: [new Keyv({ store: new KeyvDrizzleKv(path), namespace: 'app' })], ttl: 60_000 });

if (process.argv[3] === '--child') {
  // The second process: reads what the first one wrote, and writes for it.
  show('child: get("user:1")', await cache.get('user:1'));
  show('child: wrap("report") computed', await cache.wrap('report', () => 'recomputed by the child'));
  await cache.set('from-child', { pid: process.pid > 0 }, 30_000);
  await cache.disconnect();
  process.exit(0);
}

await cache.clear(); // a fresh start on every run (only namespace 'app')

// set / get / ttl (milliseconds, as cache-manager counts; ttl() answers the expiry time, epoch ms)
await cache.set('user:1', { name: 'Alice' }, 10_000);
show('get("user:1")', await cache.get('user:1'));
const expires = await cache.ttl('user:1');
show('ttl("user:1") - now, in ms', Math.round((expires - Date.now()) / 1000) * 1000);
show('get("nobody")', await cache.get('nobody'));

// wrap: the function runs once; later calls (and other processes) get the cached result
let computed = 0;
const report = () => cache.wrap('report', async () => {
  computed++;
  return `report #${computed}`;
}, 5_000);
show('wrap("report")', await report());
show('wrap("report") again', await report());
show('times computed', computed);

// mset / mget / del
await cache.mset([
  { key: 'a', value: 1 },
  { key: 'b', value: 2, ttl: 1_000 },
]);
show('mget(["a", "b", "c"])', await cache.mget(['a', 'b', 'c']));
await cache.del('a');
show('get("a") after del', await cache.get('a'));

// A second process on the same file
const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), path, '--child'], { encoding: 'utf8' });
if (child.status !== 0) throw new Error(`the child process failed:\n${child.stderr}`);
process.stdout.write(child.stdout);
show('get("from-child")', await cache.get('from-child'));

// clear: every entry of namespace 'app'
await cache.clear();
show('mget after clear', await cache.mget(['user:1', 'report', 'b', 'from-child']));
await cache.disconnect();
