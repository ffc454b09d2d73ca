import type { Insertable } from 'kysely';
import type { Executor } from '../database.js';
import type { BlockRow, BlocksTable, BypassRow, BypassesTable } from '../schema.js';

export interface HistoryQuery {
  userId?: string;
  /** Continue below this id (newest first). */
  beforeId?: number;
  limit: number;
}

export const blocksRepository = {
  async insert(db: Executor, row: Insertable<BlocksTable>): Promise<number> {
    const inserted = await db.insertInto('blocks').values(row).returning('id').executeTakeFirstOrThrow();
    return Number(inserted.id);
  },

  findById(db: Executor, id: number): Promise<BlockRow | undefined> {
    return db.selectFrom('blocks').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** Completes an open block; false when it had been completed already (nothing changed). */
  async complete(db: Executor, id: number, at: number, reason: string): Promise<boolean> {
    const result = await db.updateTable('blocks').set({ completed_at: at, completion_reason: reason, blocked: 0 }).where('id', '=', id).where('completed_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  list(db: Executor, query: HistoryQuery): Promise<BlockRow[]> {
    let builder = db.selectFrom('blocks').selectAll();
    if (query.userId) builder = builder.where('user_id', '=', query.userId);
    if (query.beforeId !== undefined) builder = builder.where('id', '<', query.beforeId);
    return builder.orderBy('id', 'desc').limit(query.limit).execute();
  },
};

export const bypassesRepository = {
  async insert(db: Executor, row: Insertable<BypassesTable>): Promise<number> {
    const inserted = await db.insertInto('bypasses').values(row).returning('id').executeTakeFirstOrThrow();
    return Number(inserted.id);
  },

  findById(db: Executor, id: number): Promise<BypassRow | undefined> {
    return db.selectFrom('bypasses').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** Completes an open bypass; false when it had been completed already (nothing changed). */
  async complete(db: Executor, id: number, at: number, reason: 'used' | 'expired' | 'cancelled' | 'replaced'): Promise<boolean> {
    const result = await db
      .updateTable('bypasses')
      .set({ completed_at: at, completion_reason: reason, bypass_used: reason === 'used' ? 1 : 0 })
      .where('id', '=', id)
      .where('completed_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  list(db: Executor, query: HistoryQuery): Promise<BypassRow[]> {
    let builder = db.selectFrom('bypasses').selectAll();
    if (query.userId) builder = builder.where('user_id', '=', query.userId);
    if (query.beforeId !== undefined) builder = builder.where('id', '<', query.beforeId);
    return builder.orderBy('id', 'desc').limit(query.limit).execute();
  },
};
