import { withAutoIncrementId } from '../dialect.js';
import type { Migration } from '../migrator.js';

/**
 * Self-service password reset and e-mail (SPEC.md §6):
 * - users of the local directory get a password (argon2id) and an
 *   authentication e-mail address registered for password reset, and may hold
 *   an administrator role (which limits who may change their methods);
 * - `mail_log`: one row per e-mail sent (the telephony log's counterpart),
 *   personal data of the user it went to;
 * - `sspr_sessions`: a password reset in progress, which methods the user
 *   proved, and the state of the one being proved;
 * - `sspr_events`: every step of every reset, for throttling and the record.
 */
export const selfService: Migration = {
  name: '0012-self-service',
  async up(db, dialect) {
    await db.schema.alterTable('users').addColumn('password_hash', 'text').execute();
    await db.schema.alterTable('users').addColumn('password_changed_at', 'bigint').execute();
    await db.schema.alterTable('users').addColumn('sspr_email', 'text').execute();
    // The administrator role a person holds, if any: Authentication Administrators may not change such a user's methods.
    await db.schema.alterTable('users').addColumn('admin_role', 'text').execute();
    await db.schema
      .createTable('mail_log')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text')
      .addColumn('to_address', 'text', (col) => col.notNull())
      .addColumn('subject', 'text', (col) => col.notNull())
      // Kept only by the outbox gateway, whose whole purpose is to show it; never for a real SMTP gateway.
      .addColumn('body', 'text')
      .addColumn('gateway', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('provider_id', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('mail_log_user').on('mail_log').columns(['user_id', 'created_at']).execute();
    await db.schema.createIndex('mail_log_time').on('mail_log').column('created_at').execute();
    await db.schema.createIndex('mail_log_address').on('mail_log').column('to_address').execute();
    await db.schema
      .createTable('sspr_sessions')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('methods_required', 'integer', (col) => col.notNull())
      .addColumn('methods_passed', 'text', (col) => col.notNull())
      .addColumn('pending', 'text')
      .addColumn('ip', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('sspr_sessions_user').on('sspr_sessions').columns(['user_id', 'created_at']).execute();
    await db.schema.createIndex('sspr_sessions_time').on('sspr_sessions').column('created_at').execute();
    await withAutoIncrementId(db.schema.createTable('sspr_events'), dialect)
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('user_id', 'text')
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('session_id', 'text')
      .addColumn('step', 'text', (col) => col.notNull())
      .addColumn('method', 'text')
      .addColumn('succeeded', 'integer', (col) => col.notNull())
      .addColumn('detail', 'text')
      .addColumn('ip', 'text')
      .execute();
    await db.schema.createIndex('sspr_events_user').on('sspr_events').columns(['user_id', 'at']).execute();
    await db.schema.createIndex('sspr_events_time').on('sspr_events').column('at').execute();
    await db.schema.createIndex('sspr_events_ip').on('sspr_events').columns(['ip', 'at']).execute();
  },
  async down(db) {
    await db.schema.dropTable('sspr_events').execute();
    await db.schema.dropTable('sspr_sessions').execute();
    await db.schema.dropTable('mail_log').execute();
    await db.schema.alterTable('users').dropColumn('admin_role').execute();
    await db.schema.alterTable('users').dropColumn('sspr_email').execute();
    await db.schema.alterTable('users').dropColumn('password_changed_at').execute();
    await db.schema.alterTable('users').dropColumn('password_hash').execute();
  },
};
