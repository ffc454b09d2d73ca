import type { Insertable } from 'kysely';
import type { Executor } from '../database.js';
import type { AppPasswordsTable } from '../schema.js';

/** An app password as it may be shown: everything but its hash. */
export interface AppPasswordListing {
  id: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

/** Per-user app passwords for legacy clients (SPEC.md §3), kept as keyed hashes. */
export const appPasswordsRepository = {
  async insert(db: Executor, row: Insertable<AppPasswordsTable>): Promise<void> {
    await db.insertInto('app_passwords').values(row).execute();
  },

  async countForUser(db: Executor, userId: string): Promise<number> {
    const row = await db.selectFrom('app_passwords').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
    return Number(row.n);
  },

  /** A user's app passwords, oldest first, without their hashes. */
  listForUser(db: Executor, userId: string): Promise<AppPasswordListing[]> {
    return db.selectFrom('app_passwords').select(['id', 'name', 'created_at', 'last_used_at']).where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  },

  /** The user's app password with this keyed hash. */
  findByHash(db: Executor, userId: string, secretHash: string): Promise<{ id: string; name: string } | undefined> {
    return db.selectFrom('app_passwords').select(['id', 'name']).where('secret_hash', '=', secretHash).where('user_id', '=', userId).executeTakeFirst();
  },

  async markUsed(db: Executor, id: string, at: number): Promise<void> {
    await db.updateTable('app_passwords').set({ last_used_at: at }).where('id', '=', id).execute();
  },

  /** Deletes the user's app password `id`; false when the user has none by that id. */
  async deleteOfUser(db: Executor, userId: string, id: string): Promise<boolean> {
    const result = await db.deleteFrom('app_passwords').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  },
};
