import type { Insertable } from 'kysely';
import type { Executor } from '../database.js';
import type { AuditLogTable, AuditRow, UserChangeRow, UserChangesTable } from '../schema.js';

export const changesRepository = {
  async insertMany(db: Executor, rows: Insertable<UserChangesTable>[]): Promise<void> {
    for (let start = 0; start < rows.length; start += 200) {
      await db.insertInto('user_changes').values(rows.slice(start, start + 200)).execute();
    }
  },

  listForUser(db: Executor, userId: string): Promise<UserChangeRow[]> {
    return db.selectFrom('user_changes').selectAll().where('user_id', '=', userId).orderBy('id').execute();
  },

  /** Changes with an id above `afterId`, oldest first: what another node needs to catch up. */
  listSince(db: Executor, afterId: number, limit: number): Promise<UserChangeRow[]> {
    return db.selectFrom('user_changes').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
  },
};

export interface AuditQuery {
  afterId?: number;
  limit: number;
  action?: string;
  targetId?: string;
}

export const auditRepository = {
  async insert(db: Executor, row: Insertable<AuditLogTable>): Promise<void> {
    await db.insertInto('audit_log').values(row).execute();
  },

  /** Newest first; `afterId` continues below an id already seen. */
  list(db: Executor, query: AuditQuery): Promise<AuditRow[]> {
    let builder = db.selectFrom('audit_log').selectAll();
    if (query.afterId !== undefined) builder = builder.where('id', '<', query.afterId);
    if (query.action) builder = builder.where('action', '=', query.action);
    if (query.targetId) builder = builder.where('target_id', '=', query.targetId);
    return builder.orderBy('id', 'desc').limit(query.limit).execute();
  },
};

export const settingsRepository = {
  async get(db: Executor, key: string): Promise<string | undefined> {
    const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  },

  /** Inserts the setting unless it exists; true when this call inserted it. */
  async insertIfAbsent(db: Executor, key: string, value: string): Promise<boolean> {
    const result = await db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  },
};
