import type { Migration } from '../migrator.js';
import { withAutoIncrementId } from '../dialect.js';

/** Directory, groups, change records, audit log, admin keys and settings. */
export const foundation: Migration = {
  name: '0001-foundation',
  async up(db, dialect) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('username_key', 'text', (col) => col.notNull().unique())
      .addColumn('first_name', 'text')
      .addColumn('last_name', 'text')
      .addColumn('email', 'text')
      .addColumn('language', 'text', (col) => col.notNull())
      .addColumn('account_enabled', 'boolean', (col) => col.notNull())
      .addColumn('mfa_state', 'text', (col) => col.notNull())
      .addColumn('pin_hash', 'text')
      .addColumn('pin_change_required', 'boolean', (col) => col.notNull())
      .addColumn('phone_country_code', 'text')
      .addColumn('phone_number', 'text')
      .addColumn('phone_extension', 'text')
      .addColumn('backup_country_code', 'text')
      .addColumn('backup_phone_number', 'text')
      .addColumn('backup_extension', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();

    await db.schema
      .createTable('groups')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('name_key', 'text', (col) => col.notNull().unique())
      .addColumn('description', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();

    await db.schema
      .createTable('user_groups')
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('group_id', 'text', (col) => col.notNull().references('groups.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id'])
      .execute();
    await db.schema.createIndex('user_groups_group').on('user_groups').columns(['group_id', 'user_id']).execute();

    // Records keep user_id without a foreign key: history outlives an ordinary user delete.
    await withAutoIncrementId(db.schema.createTable('user_changes'), dialect)
      .addColumn('changed_at', 'bigint', (col) => col.notNull())
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('change_type', 'text', (col) => col.notNull())
      .addColumn('changed_fields', 'text', (col) => col.notNull())
      .addColumn('new_country_code', 'text')
      .addColumn('new_phone_number', 'text')
      .addColumn('new_extension', 'text')
      .addColumn('new_backup_country_code', 'text')
      .addColumn('new_backup_phone_number', 'text')
      .addColumn('new_backup_extension', 'text')
      .addColumn('new_pin_hash', 'text')
      .addColumn('pin_change_required', 'boolean')
      .addColumn('old_device_token', 'text')
      .addColumn('new_device_token', 'text')
      .addColumn('actor_type', 'text', (col) => col.notNull())
      .addColumn('actor_id', 'text', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('user_changes_user').on('user_changes').columns(['user_id', 'id']).execute();
    await db.schema.createIndex('user_changes_time').on('user_changes').column('changed_at').execute();

    await withAutoIncrementId(db.schema.createTable('audit_log'), dialect)
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('actor_type', 'text', (col) => col.notNull())
      .addColumn('actor_id', 'text', (col) => col.notNull())
      .addColumn('actor_role', 'text')
      .addColumn('entry_point', 'text', (col) => col.notNull())
      .addColumn('request_id', 'text')
      .addColumn('action', 'text', (col) => col.notNull())
      .addColumn('target_type', 'text', (col) => col.notNull())
      .addColumn('target_id', 'text')
      .addColumn('details', 'text', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('audit_log_time').on('audit_log').column('at').execute();
    await db.schema.createIndex('audit_log_target').on('audit_log').columns(['target_type', 'target_id']).execute();

    await db.schema
      .createTable('admin_keys')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('role', 'text', (col) => col.notNull())
      .addColumn('key_hash', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('created_by', 'text', (col) => col.notNull())
      .addColumn('last_used_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .execute();

    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (col) => col.primaryKey())
      .addColumn('value', 'text', (col) => col.notNull())
      .execute();
  },
  async down(db) {
    for (const table of ['settings', 'admin_keys', 'audit_log', 'user_changes', 'user_groups', 'groups', 'users']) {
      await db.schema.dropTable(table).execute();
    }
  },
};
