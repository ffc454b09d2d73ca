import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../database.js';
import type { MailLogTable } from '../schema.js';

export type MailLogRow = Selectable<MailLogTable>;

export interface MailLogListQuery {
  gateway?: string;
  userId?: string;
  limit: number;
}

/** Every e-mail sent or kept in the outbox (modules/mail/): the telephony log's counterpart. */
export const mailLogRepository = {
  async insert(db: Executor, row: Insertable<MailLogTable>): Promise<void> {
    await db.insertInto('mail_log').values(row).execute();
  },

  async update(db: Executor, id: string, patch: Updateable<MailLogTable>): Promise<void> {
    await db.updateTable('mail_log').set(patch).where('id', '=', id).execute();
  },

  findById(db: Executor, id: string): Promise<MailLogRow | undefined> {
    return db.selectFrom('mail_log').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** Newest first. */
  list(db: Executor, query: MailLogListQuery): Promise<MailLogRow[]> {
    let builder = db.selectFrom('mail_log').selectAll();
    if (query.gateway) builder = builder.where('gateway', '=', query.gateway);
    if (query.userId) builder = builder.where('user_id', '=', query.userId);
    return builder.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
  },
};
