import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../database.js';
import type { ServerNodesTable } from '../schema.js';

export type ServerNodeRow = Selectable<ServerNodesTable>;

/** Each running node's row: its heartbeat (modules/reports/heartbeat.ts) and the server status report. */
export const serverNodesRepository = {
  async insert(db: Executor, row: Insertable<ServerNodesTable>): Promise<void> {
    await db.insertInto('server_nodes').values(row).execute();
  },

  /** Records a beat of node `id`; false when the node has no row (yet, or no longer). */
  async beat(db: Executor, id: string, at: number): Promise<boolean> {
    const updated = await db.updateTable('server_nodes').set({ last_seen_at: at, database_reachable: 1 }).where('id', '=', id).executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  },

  async markStopped(db: Executor, id: string, at: number): Promise<void> {
    await db.updateTable('server_nodes').set({ stopped_at: at }).where('id', '=', id).execute();
  },

  /** Forgets nodes last seen before `before`. */
  async deleteSilentSince(db: Executor, before: number): Promise<void> {
    await db.deleteFrom('server_nodes').where('last_seen_at', '<', before).execute();
  },

  /** Nodes seen at or after `since`, most recently started first. */
  seenSince(db: Executor, since: number): Promise<ServerNodeRow[]> {
    return db.selectFrom('server_nodes').selectAll().where('last_seen_at', '>=', since).orderBy('started_at', 'desc').orderBy('id').execute();
  },
};
