// Child process for the concurrent-open test of drizzle-kv/sqlite: loads the
// built entry, says "ready", waits for "go" on stdin, then opens the store,
// writes, increments, reads back and reports "ok" or the error.
const { openStore } = require(process.env.DRIZZLE_KV_SQLITE_ENTRY);

const [path, table] = process.argv.slice(2);
process.stdin.once('data', async () => {
  let line;
  try {
    const store = await openStore(path, table);
    await store.set(`pid:${process.pid}`, process.pid);
    await store.incr('opens');
    line = (await store.get(`pid:${process.pid}`)) === process.pid ? 'ok' : 'ERR lost write';
    await store.close();
  } catch (err) {
    line = `ERR ${err.code} ${err.message}`;
  }
  process.stdout.write(`${line}\n`, () => process.exit(0));
});
process.stdout.write('ready\n');
