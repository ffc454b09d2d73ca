import type { Migration } from '../migrator.js';

/** SPEC.md §4 server status: every running node's heartbeat. */
export const serverNodes: Migration = {
  name: '0008-server-nodes',
  async up(db) {
    await db.schema
      .createTable('server_nodes')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('host', 'text', (col) => col.notNull())
      .addColumn('version', 'text', (col) => col.notNull())
      .addColumn('started_at', 'bigint', (col) => col.notNull())
      .addColumn('last_seen_at', 'bigint', (col) => col.notNull())
      .addColumn('database_reachable', 'integer', (col) => col.notNull())
      .addColumn('stopped_at', 'bigint')
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('server_nodes').execute();
  },
};
