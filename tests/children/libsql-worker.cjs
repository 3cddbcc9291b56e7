// A child process on a libSQL database through a bundle of src/libsql (built by
// tests/libsql/engine.test.ts). Says "ready", waits for "go" on stdin, opens
// the store (maybe creating it: a fresh file), increments one counter <ops>
// times, and prints one line: "ok <elapsed ms>" or "ERR <code> <message>".
//   node libsql-worker.cjs <url> <table> <ops>
// With <ops> = "modules" it prints instead whether loading the bundle loaded
// @libsql/client, then whether opening a store on a URL did.
const { openStore } = require(process.env.DRIZZLE_KV_LIBSQL_ENTRY);

const [url, table, opsText] = process.argv.slice(2);
const libsqlLoaded = () => Object.keys(require.cache).some((path) => path.includes('@libsql'));

if (opsText === 'modules') {
  const before = libsqlLoaded();
  openStore(url, { table }).then(
    async (store) => {
      const after = libsqlLoaded();
      await store.close();
      process.stdout.write(`${JSON.stringify({ before, after })}\n`, () => process.exit(0));
    },
    (err) => process.stdout.write(`ERR ${err.code} ${err.message}\n`, () => process.exit(0)),
  );
} else {
  const ops = Number(opsText);
  process.stdin.once('data', async () => {
    let line;
    const started = Date.now();
    try {
      const store = await openStore(url, { table });
      for (let i = 0; i < ops; i++) await store.incr('n');
      await store.set(`pid:${process.pid}`, process.pid);
      await store.close();
      line = `ok ${Date.now() - started}`;
    } catch (err) {
      line = `ERR ${err.code} ${err.message}`;
    }
    process.stdout.write(`${line}\n`, () => process.exit(0));
  });
  process.stdout.write('ready\n');
}
