import type { Executor } from '../database.js';
import type { LogKeysTable } from '../schema.js';

/** The sealed keys of the service log's personal fields, one per user and UTC day (modules/privacy/personal-log.ts). */
export const logKeysRepository = {
  async find(db: Executor, userId: string, day: number): Promise<string | null> {
    const row = await db.selectFrom('log_keys').select('key_sealed').where('user_id', '=', userId).where('day', '=', day).executeTakeFirst();
    return row?.key_sealed ?? null;
  },

  /**
   * Inserts the keys that do not exist yet; a key already stored for a user
   * and day stays (two changes of one user at once both use the first).
   * Returns how many this call inserted.
   */
  async insertIfAbsent(db: Executor, rows: LogKeysTable[]): Promise<number> {
    if (rows.length === 0) return 0;
    const result = await db.insertInto('log_keys').values(rows).onConflict((oc) => oc.columns(['user_id', 'day']).doNothing()).executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? rows.length);
  },

  /** Destroys the keys of days before `day` (retention): their lines become unreadable in every copy of the log. */
  async deleteBefore(db: Executor, day: number): Promise<number> {
    const result = await db.deleteFrom('log_keys').where('day', '<', day).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
