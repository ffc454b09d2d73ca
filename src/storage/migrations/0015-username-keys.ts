import type { Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/** The key of a user name as this migration was written (NFKC, case folded): kept here, so the migration never changes. */
const keyOf = (username: string): string => username.normalize('NFKC').trim().toUpperCase().toLowerCase().normalize('NFKC');

interface Row {
  id: string;
  username: string;
  username_key: string;
}

/** Gives every user the key `keyOf` makes of their name, unless another user holds that key already. In pages of 1000, by id. */
async function rekey(untyped: Kysely<unknown>, keyOf: (username: string) => string): Promise<void> {
  const db = untyped as Kysely<{ users: Row }>;
  let after = '';
  for (;;) {
    const rows = await db.selectFrom('users').select(['id', 'username', 'username_key']).where('id', '>', after).orderBy('id').limit(1000).execute();
    if (rows.length === 0) return;
    for (const row of rows) {
      const key = keyOf(row.username);
      if (key === row.username_key) continue;
      const taken = await db.selectFrom('users').select('id').where('username_key', '=', key).executeTakeFirst();
      if (!taken) await db.updateTable('users').set({ username_key: key }).where('id', '=', row.id).execute();
    }
    after = rows[rows.length - 1]!.id;
  }
}

/**
 * User names compare by their NFKC form, case folded (modules/directory/
 * username.ts), no longer by lower case alone. Only names with letters
 * beyond ASCII can get another key; each is recomputed, unless another user
 * already has the new key (two accounts that are look-alikes of each other):
 * that one keeps its old key, and stays reachable by its name as stored.
 */
export const usernameKeys: Migration = {
  name: '0015-username-keys',
  up: (db) => rekey(db, keyOf),
  down: (db) => rekey(db, (username) => username.trim().toLowerCase()),
};
