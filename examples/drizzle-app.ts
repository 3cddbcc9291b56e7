// An app that already uses Drizzle keeps a drizzle-kv store in its own database,
// on its own connection, and queries the store's table with its own typed Drizzle code.
//   npm run example -- examples/drizzle-app.ts [path.db]
import Database from 'better-sqlite3';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { KVDatabase } from 'drizzle-kv';
import { kvTable } from 'drizzle-kv/schema';

// The app's schema: its own table, and the store's table declared with the library's factory.
export const users = sqliteTable('users', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
});
export const sessions = kvTable('sessions');

const path = process.argv[2] ?? 'drizzle-app.db';
const client = new Database(path, { timeout: 5000 });
client.pragma('journal_mode = WAL');
const db = drizzle({ client, schema: { users, sessions } });

db.run(sql`CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`);
db.insert(users).values([{ id: 1, name: 'Alice' }, { id: 2, name: 'Bob' }]).onConflictDoNothing().run();

// The store shares the app's connection: no second connection, no settings changed.
const kv = new KVDatabase(db);
const store = kv.store<{ userId: number; agent: string }>('sessions', { defaultTtl: 3600 });
store.set('sess:a1', { userId: 1, agent: 'firefox' });
store.set('sess:b7', { userId: 2, agent: 'curl' });
store.set('sess:a2', { userId: 1, agent: 'phone' });

// Store writes join the app's transactions: this one is rolled back, session included.
try {
  db.transaction(() => {
    db.insert(users).values({ id: 3, name: 'Mallory' }).run();
    store.set('sess:m1', { userId: 3, agent: 'bot' });
    throw new Error('rejected by the app');
  });
} catch {
  // expected
}

// Typed Drizzle over the store's table: live sessions joined to their users.
const now = Date.now();
const rows = db
  .select({ session: sessions.key, user: users.name })
  .from(sessions)
  .innerJoin(users, eq(sql`json_extract(${sessions.value}, '$.userId')`, users.id))
  .where(sql`${sessions.expiresAt} IS NULL OR ${sessions.expiresAt} > ${now}`)
  .orderBy(sessions.key)
  .all();

console.log(JSON.stringify(rows));
console.log(JSON.stringify({ mallory: store.has('sess:m1'), users: db.select().from(users).all().length }));

kv.close(); // closes the stores; the app's connection stays open
console.log(JSON.stringify({ appConnectionOpen: client.open }));
client.close();
