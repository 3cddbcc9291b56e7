// A child process on PostgreSQL through the built drizzle-kv/pg. Says "ready",
// waits for "go" on stdin, runs its mode, prints one JSON report and exits.
//   node pg-worker.cjs <mode> <url> <pgSchema> <id> <ops>
// Modes:
//   open     open the store (maybe fresh), write, increment, read back
//   mix      <ops> mixed operations: a shared counter, own keys, pops of a
//            shared pool, whole batches, add races; reports what it saw
//   restart  operations in a loop until told "stop": acknowledged writes and
//            every error's code, across a server restart
const { openStore } = require(process.env.DRIZZLE_KV_PG_ENTRY);
const { mulberry32 } = require('./prng.cjs');

const [mode, url, pgSchema, idText, opsText] = process.argv.slice(2);
const id = Number(idText);
const ops = Number(opsText ?? 0);

async function open() {
  const store = await openStore(url, { pgSchema, table: 'shared' });
  await store.set(`pid:${process.pid}`, process.pid);
  await store.incr('opens');
  const back = await store.get(`pid:${process.pid}`);
  await store.close();
  return back === process.pid ? { ok: true } : { ok: false, error: 'lost write' };
}

async function mix() {
  const store = await openStore(url, { pgSchema, table: 'shared' });
  const random = mulberry32(id * 7919 + 1);
  const report = { id, incr: 0, popped: [], addWins: [], own: {}, torn: [], counts: {} };
  const count = (op) => (report.counts[op] = (report.counts[op] ?? 0) + 1);
  for (let i = 0; i < ops; i++) {
    const r = random();
    if (r < 0.3) {
      await store.incr('counter');
      report.incr++;
      count('incr');
    } else if (r < 0.45) {
      const key = `own:${id}:${Math.floor(random() * 20)}`;
      await store.set(key, i);
      report.own[key] = i;
      count('set');
    } else if (r < 0.55) {
      const key = `own:${id}:${Math.floor(random() * 20)}`;
      const got = await store.get(key);
      if (got !== report.own[key]) report.torn.push({ key, got, expected: report.own[key] ?? null });
      count('get');
    } else if (r < 0.7) {
      const item = await store.pop(`pool:${Math.floor(random() * 400)}`);
      if (item !== undefined) report.popped.push(item);
      count('pop');
    } else if (r < 0.8) {
      // A batch: ten keys written together with one stamp; any read sees them all with one stamp.
      const batch = Math.floor(random() * 5);
      await store.setMany(Array.from({ length: 10 }, (_, k) => [`batch:${batch}:${k}`, `${id}:${i}`]));
      const seen = new Set((await store.getMany(Array.from({ length: 10 }, (_, k) => `batch:${batch}:${k}`))).values());
      if (seen.size !== 1) report.torn.push({ batch, seen: [...seen] });
      count('setMany');
    } else if (r < 0.9) {
      const key = `race:${Math.floor(random() * 200)}`;
      if (await store.add(key, id)) report.addWins.push(key);
      count('add');
    } else {
      await store.transaction(async (tx) => {
        await tx.set(`own:${id}:tx`, i);
        await tx.incr('tx-counter');
      });
      report.own[`own:${id}:tx`] = i;
      report.txIncr = (report.txIncr ?? 0) + 1;
      count('transaction');
    }
  }
  await store.close();
  return report;
}

async function restart() {
  const store = await openStore(url, { pgSchema, table: 'restart' });
  const acked = [];
  const errors = {};
  let afterFailure = 0;
  let failed = false;
  let stop = false;
  process.stdin.on('data', (data) => {
    if (String(data).includes('stop')) stop = true;
  });
  for (let i = 0; !stop; i++) {
    try {
      await store.set(`k:${id}:${i}`, i);
      acked.push(i);
      if (failed) afterFailure++;
    } catch (err) {
      failed = true;
      const code = err && err.code ? err.code : `untyped: ${err && err.message}`;
      errors[code] = (errors[code] ?? 0) + 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  await store.close();
  return { id, acked, errors, afterFailure };
}

const modes = { open, mix, restart };
process.stdin.once('data', () => {
  modes[mode]()
    .then(
      (report) => report,
      (err) => ({ fatal: `${err && err.code} ${err && err.message}` }),
    )
    .then((report) => process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0)));
});
process.stdout.write('ready\n');
