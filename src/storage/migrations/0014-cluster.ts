import type { Migration } from '../migrator.js';

/** Each node's heartbeat row says how often it beats, so "down" is judged by its own interval. */
export const cluster: Migration = {
  name: '0014-cluster',
  async up(db) {
    await db.schema.alterTable('server_nodes').addColumn('heartbeat_seconds', 'integer').execute();
  },
  async down(db) {
    await db.schema.alterTable('server_nodes').dropColumn('heartbeat_seconds').execute();
  },
};
