import { sql, type Insertable, type Updateable } from 'kysely';
import type { Executor } from '../database.js';
import type { TelephonyLogRow, TelephonyLogTable, UserRow } from '../schema.js';

export interface TelephonyListQuery {
  gateway?: string;
  userId?: string;
  kind?: 'sms' | 'call';
  /** Continue with entries older than this one (created_at, id). */
  before?: { createdAt: number; id: string };
  limit: number;
}

export const telephonyRepository = {
  async insert(db: Executor, row: Insertable<TelephonyLogTable>): Promise<void> {
    await db.insertInto('telephony_log').values(row).execute();
  },

  async update(db: Executor, id: string, patch: Updateable<TelephonyLogTable>): Promise<void> {
    await db.updateTable('telephony_log').set(patch).where('id', '=', id).execute();
  },

  findById(db: Executor, id: string): Promise<TelephonyLogRow | undefined> {
    return db.selectFrom('telephony_log').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async deleteOfUser(db: Executor, userId: string, kind: 'sms' | 'call'): Promise<number> {
    const result = await db.deleteFrom('telephony_log').where('user_id', '=', userId).where('kind', '=', kind).executeTakeFirst();
    return Number(result.numDeletedRows);
  },

  /** Newest first. */
  list(db: Executor, query: TelephonyListQuery): Promise<TelephonyLogRow[]> {
    let builder = db.selectFrom('telephony_log').selectAll();
    if (query.gateway) builder = builder.where('gateway', '=', query.gateway);
    if (query.userId) builder = builder.where('user_id', '=', query.userId);
    if (query.kind) builder = builder.where('kind', '=', query.kind);
    const before = query.before;
    if (before) {
      // The bound on time alone first, so the index gives the range; the OR only sorts out ties.
      builder = builder.where('created_at', '<=', before.createdAt).where((eb) => eb.or([eb('created_at', '<', before.createdAt), eb('id', '<', before.id)]));
    }
    return builder.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
  },

  /** Whose text message a number `e164` (+ country code and number) sent: the first user by name whose primary phone it is. */
  senderOf(db: Executor, e164: string): Promise<Pick<UserRow, 'id' | 'username'> | undefined> {
    return db
      .selectFrom('users')
      .select(['id', 'username'])
      .where(sql<string>`'+' || phone_country_code || phone_number`, '=', e164)
      .orderBy('username_key')
      .limit(1)
      .executeTakeFirst();
  },
};
