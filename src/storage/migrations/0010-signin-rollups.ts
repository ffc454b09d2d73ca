import type { Migration } from '../migrator.js';

/**
 * Daily roll-ups of the sign-in log (SPEC.md §4 reports): each whole past
 * day's sign-ins counted by method, entry point, status, MFA requirement and
 * detail; the users who failed repeatedly that day; and which days are done.
 */
export const signinRollups: Migration = {
  name: '0010-signin-rollups',
  async up(db) {
    await db.schema
      .createTable('signin_rollups')
      .addColumn('day', 'integer', (col) => col.notNull())
      .addColumn('method', 'text')
      .addColumn('entry_point', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('mfa_required', 'integer', (col) => col.notNull())
      .addColumn('detail', 'text')
      .addColumn('signins', 'integer', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('signin_rollups_day').on('signin_rollups').column('day').execute();
    await db.schema
      .createTable('signin_rollup_failures')
      .addColumn('day', 'integer', (col) => col.notNull())
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('failures', 'integer', (col) => col.notNull())
      .addPrimaryKeyConstraint('signin_rollup_failures_pk', ['day', 'username'])
      .execute();
    await db.schema.createIndex('signin_rollup_failures_username').on('signin_rollup_failures').column('username').execute();
    await db.schema
      .createTable('signin_rollup_days')
      .addColumn('day', 'integer', (col) => col.primaryKey())
      .addColumn('rolled_at', 'bigint', (col) => col.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('signin_rollup_days').execute();
    await db.schema.dropTable('signin_rollup_failures').execute();
    await db.schema.dropTable('signin_rollups').execute();
  },
};
