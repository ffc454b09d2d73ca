import type { Migration } from '../migrator.js';

/**
 * Nodes of one deployment: `server_settings` holds values every node must
 * agree on (the master key check: a value sealed with the master key that a
 * node must be able to open before it starts), and each node's heartbeat
 * row says how often it beats, so "down" is judged by its own interval.
 */
export const cluster: Migration = {
  name: '0014-cluster',
  async up(db) {
    await db.schema
      .createTable('server_settings')
      .addColumn('key', 'text', (col) => col.primaryKey())
      .addColumn('value', 'text', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.alterTable('server_nodes').addColumn('heartbeat_seconds', 'integer').execute();
  },
  async down(db) {
    await db.schema.alterTable('server_nodes').dropColumn('heartbeat_seconds').execute();
    await db.schema.dropTable('server_settings').execute();
  },
};
