import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../database.js';
import type { SsprEventsTable, SsprSessionRow, SsprSessionsTable } from '../schema.js';

/** Self-service password reset sessions (SPEC.md §6). */
export const ssprSessionsRepository = {
  async insert(db: Executor, row: Insertable<SsprSessionsTable>): Promise<void> {
    await db.insertInto('sspr_sessions').values(row).execute();
  },

  findById(db: Executor, id: string): Promise<SsprSessionRow | undefined> {
    return db.selectFrom('sspr_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async update(db: Executor, id: string, patch: Updateable<SsprSessionsTable>): Promise<void> {
    await db.updateTable('sspr_sessions').set(patch).where('id', '=', id).execute();
  },
};

/** Which events a throttle counts: one step since a moment, by name, address or session. */
export interface SsprEventFilter {
  /** The username key asked for (real or not). */
  name?: string;
  ip?: string;
  sessionId?: string;
  step: string;
  failuresOnly: boolean;
  since: number;
}

/** The steps of resets and registrations: the record, and what the throttles count. */
export const ssprEventsRepository = {
  async insert(db: Executor, row: Insertable<SsprEventsTable>): Promise<number> {
    const inserted = await db.insertInto('sspr_events').values(row).returning('id').executeTakeFirstOrThrow();
    return Number(inserted.id);
  },

  /** Rewrites an event recorded in advance with what happened. */
  async update(db: Executor, id: number, patch: Pick<Updateable<SsprEventsTable>, 'step' | 'succeeded' | 'detail'>): Promise<void> {
    await db.updateTable('sspr_events').set(patch).where('id', '=', id).execute();
  },

  async count(db: Executor, filter: SsprEventFilter): Promise<number> {
    let query = db
      .selectFrom('sspr_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('step', '=', filter.step)
      .where('at', '>=', filter.since);
    if (filter.name !== undefined) query = query.where('username_key', '=', filter.name);
    if (filter.ip !== undefined) query = query.where('ip', '=', filter.ip);
    if (filter.sessionId !== undefined) query = query.where('session_id', '=', filter.sessionId);
    if (filter.failuresOnly) query = query.where('succeeded', '=', 0);
    return Number((await query.executeTakeFirstOrThrow()).n);
  },
};
