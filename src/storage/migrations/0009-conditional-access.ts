import type { Migration } from '../migrator.js';

/**
 * Conditional access (SPEC.md §3): named locations, policies and the users
 * they name, per-user app passwords for legacy clients, the moment a user's
 * remembered devices were last revoked, and the client type and device of
 * each sign-in.
 */
export const conditionalAccess: Migration = {
  name: '0009-conditional-access',
  async up(db) {
    await db.schema
      .createTable('named_locations')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('name_key', 'text', (col) => col.notNull().unique())
      // JSON: the IP ranges as CIDR texts.
      .addColumn('ranges', 'text', (col) => col.notNull())
      .addColumn('trusted', 'integer', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema
      .createTable('access_policies')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('name_key', 'text', (col) => col.notNull().unique())
      .addColumn('state', 'text', (col) => col.notNull()) // enabled | disabled
      .addColumn('grant_control', 'text', (col) => col.notNull()) // block | allow | mfa
      .addColumn('remember_mfa_days', 'integer')
      // JSON: every condition but the users (groups, applications and named locations by id; client types; device states).
      .addColumn('conditions', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    // The users a policy names, in a table of their own so that deleting a user leaves no reference behind.
    await db.schema
      .createTable('access_policy_users')
      .addColumn('policy_id', 'text', (col) => col.notNull().references('access_policies.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('mode', 'text', (col) => col.notNull()) // include | exclude
      .addPrimaryKeyConstraint('access_policy_users_pk', ['policy_id', 'user_id'])
      .execute();
    await db.schema.createIndex('access_policy_users_user').on('access_policy_users').column('user_id').execute();
    await db.schema
      .createTable('app_passwords')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (col) => col.notNull())
      // Keyed hash of the password: it is random and long, so a slow hash adds nothing.
      .addColumn('secret_hash', 'text', (col) => col.notNull().unique())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('app_passwords_user').on('app_passwords').column('user_id').execute();
    // Remembered-device tokens issued before this moment are no longer honoured.
    await db.schema.alterTable('users').addColumn('remembered_devices_revoked_at', 'bigint').execute();
    await db.schema.alterTable('signins').addColumn('client_type', 'text').execute();
    await db.schema.alterTable('signins').addColumn('device_id', 'text').execute();
  },
  async down(db) {
    await db.schema.alterTable('signins').dropColumn('device_id').execute();
    await db.schema.alterTable('signins').dropColumn('client_type').execute();
    await db.schema.alterTable('users').dropColumn('remembered_devices_revoked_at').execute();
    await db.schema.dropTable('app_passwords').execute();
    await db.schema.dropTable('access_policy_users').execute();
    await db.schema.dropTable('access_policies').execute();
    await db.schema.dropTable('named_locations').execute();
  },
};
