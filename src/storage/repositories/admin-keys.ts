import type { Executor } from '../database.js';
import type { AdminKeyRow } from '../schema.js';

export const adminKeysRepository = {
  async insert(db: Executor, row: AdminKeyRow): Promise<void> {
    await db.insertInto('admin_keys').values(row).execute();
  },

  findById(db: Executor, id: string): Promise<AdminKeyRow | undefined> {
    return db.selectFrom('admin_keys').selectAll().where('id', '=', id).executeTakeFirst();
  },

  list(db: Executor, includeRevoked: boolean): Promise<AdminKeyRow[]> {
    let builder = db.selectFrom('admin_keys').selectAll();
    if (!includeRevoked) builder = builder.where('revoked_at', 'is', null);
    return builder.orderBy('created_at').orderBy('id').execute();
  },

  async revoke(db: Executor, id: string, at: number): Promise<boolean> {
    const result = await db.updateTable('admin_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  async touch(db: Executor, id: string, at: number): Promise<void> {
    await db.updateTable('admin_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  },
};
