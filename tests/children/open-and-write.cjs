// Child process for the concurrent-open test: loads the built package, says
// "ready", waits for "go" on stdin, then opens the store, writes, reads back
// and reports "ok" or the error's code and message.
const { KVStore } = require(process.env.DRIZZLE_KV_ENTRY);

const [path, table] = process.argv.slice(2);
process.stdin.once('data', () => {
  let line;
  try {
    const store = new KVStore(path, table);
    store.set(`pid:${process.pid}`, process.pid);
    store.incr('opens');
    line = store.get(`pid:${process.pid}`) === process.pid ? 'ok' : 'ERR lost write';
    store.close();
  } catch (err) {
    line = `ERR ${err.code} ${err.message}`;
  }
  process.stdout.write(`${line}\n`, () => process.exit(0));
});
process.stdout.write('ready\n');
