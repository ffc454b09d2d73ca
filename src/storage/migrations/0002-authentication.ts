import { sql } from 'kysely';
import type { Migration } from '../migrator.js';
import { withAutoIncrementId } from '../dialect.js';

/**
 * The authentication engine: applications, OATH tokens, security questions,
 * pending challenges, and the records of SPEC.md §3 and §5 (sign-ins,
 * authentication attempts, blocks, bypasses).
 */
export const authentication: Migration = {
  name: '0002-authentication',
  async up(db, dialect) {
    // Per-user method settings (SPEC.md §1) and the open block / bypass, read with the user on every authentication.
    await db.schema.alterTable('users').addColumn('default_method', 'text').execute();
    await db.schema.alterTable('users').addColumn('oath_mode', 'text', (col) => col.notNull().defaultTo('standard')).execute();
    await db.schema.alterTable('users').addColumn('block_id', 'bigint').execute();
    await db.schema.alterTable('users').addColumn('bypass_id', 'bigint').execute();

    await db.schema
      .createTable('applications')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('name_key', 'text', (col) => col.notNull().unique())
      .addColumn('integration_key', 'text', (col) => col.notNull().unique())
      .addColumn('secret_hash', 'text', (col) => col.notNull())
      .addColumn('enabled', 'boolean', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();

    await db.schema
      .createTable('oath_tokens')
      .addColumn('id', 'text', (col) => col.primaryKey())
      // Set null, not cascade: a hardware token outlives its holder and goes back to stock.
      .addColumn('user_id', 'text', (col) => col.references('users.id').onDelete('set null'))
      .addColumn('serial', 'text', (col) => col.unique())
      .addColumn('kind', 'text', (col) => col.notNull()) // software | hardware
      .addColumn('type', 'text', (col) => col.notNull()) // totp | hotp
      .addColumn('algorithm', 'text', (col) => col.notNull())
      .addColumn('digits', 'integer', (col) => col.notNull())
      .addColumn('period', 'integer', (col) => col.notNull())
      .addColumn('secret_sealed', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull()) // pending | active
      .addColumn('name', 'text')
      // TOTP: the last accepted time step; HOTP: the last accepted counter. Replay checks compare against it.
      .addColumn('last_used', 'bigint')
      // HOTP: the next expected counter; TOTP: the measured clock drift in steps.
      .addColumn('counter', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('drift', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('oath_tokens_user').on('oath_tokens').column('user_id').execute();

    await db.schema
      .createTable('security_questions')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('text', 'text', (col) => col.notNull())
      .addColumn('active', 'boolean', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema
      .createTable('security_answers')
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('question_id', 'text', (col) => col.notNull().references('security_questions.id').onDelete('cascade'))
      .addColumn('answer_hash', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addPrimaryKeyConstraint('security_answers_pk', ['user_id', 'question_id'])
      .execute();

    // An open authentication: the transaction id the Auth API hands out while a challenge waits for the user.
    await db.schema
      .createTable('challenges')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('application_id', 'text', (col) => col.notNull())
      .addColumn('method', 'text', (col) => col.notNull())
      .addColumn('stage', 'text', (col) => col.notNull()) // primary | fallback
      .addColumn('status', 'text', (col) => col.notNull()) // pending | allow | deny
      .addColumn('result_code', 'text', (col) => col.notNull())
      .addColumn('primary_code', 'text')
      .addColumn('ip', 'text')
      .addColumn('auth_type', 'text', (col) => col.notNull())
      .addColumn('entry_point', 'text', (col) => col.notNull())
      .addColumn('state', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .addColumn('completed_at', 'bigint')
      .addColumn('signin_id', 'bigint')
      .execute();
    await db.schema.createIndex('challenges_user_status').on('challenges').columns(['user_id', 'status']).execute();
    await db.schema.createIndex('challenges_status_expiry').on('challenges').columns(['status', 'expires_at']).execute();


    // SPEC.md §5: authentication attempts.
    await withAutoIncrementId(db.schema.createTable('auth_attempts'), dialect)
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('user_id', 'text')
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('first_name', 'text')
      .addColumn('last_name', 'text')
      .addColumn('email', 'text')
      .addColumn('user_group', 'text')
      .addColumn('method', 'text')
      .addColumn('call_mode', 'text')
      .addColumn('sms_direction', 'text')
      .addColumn('sms_mode', 'text')
      .addColumn('app_mode', 'text')
      .addColumn('oath_mode', 'text')
      .addColumn('auth_type', 'text', (col) => col.notNull())
      .addColumn('application', 'text', (col) => col.notNull())
      .addColumn('primary_country_code', 'text')
      .addColumn('primary_phone_number', 'text')
      .addColumn('primary_extension', 'text')
      .addColumn('primary_authenticated', 'boolean')
      .addColumn('primary_result', 'text')
      .addColumn('backup_country_code', 'text')
      .addColumn('backup_phone_number', 'text')
      .addColumn('backup_extension', 'text')
      .addColumn('backup_authenticated', 'boolean')
      .addColumn('backup_result', 'text')
      .addColumn('authenticated', 'boolean', (col) => col.notNull())
      .addColumn('result', 'text', (col) => col.notNull())
      .addColumn('caller_ip', 'text')
      .addColumn('device', 'text')
      .addColumn('device_token', 'text')
      .addColumn('device_type', 'text')
      .addColumn('app_version', 'text')
      .addColumn('os_version', 'text')
      .addColumn('number_matching', 'boolean')
      .addColumn('entry_point', 'text', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('auth_attempts_user_time').on('auth_attempts').columns(['user_id', 'at']).execute();
    await db.schema.createIndex('auth_attempts_time').on('auth_attempts').column('at').execute();

    // SPEC.md §3: one sign-in event per sign-in, with its steps and the rules that decided.
    await withAutoIncrementId(db.schema.createTable('signins'), dialect)
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('user_id', 'text')
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('application_id', 'text', (col) => col.notNull())
      .addColumn('application', 'text', (col) => col.notNull())
      .addColumn('ip', 'text')
      .addColumn('auth_type', 'text', (col) => col.notNull())
      .addColumn('entry_point', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull()) // success | failure
      .addColumn('mfa_required', 'boolean', (col) => col.notNull())
      .addColumn('policy', 'text')
      .addColumn('method', 'text')
      .addColumn('result_code', 'text')
      // SPEC.md §3 detail of the MFA outcome; null when MFA was not required.
      .addColumn('detail', 'text')
      .addColumn('attempt_id', 'bigint')
      // A failure that is a guess by the caller (wrong code, unknown user) counts towards throttling.
      .addColumn('counted_failure', 'boolean', (col) => col.notNull())
      .addColumn('steps', 'text', (col) => col.notNull())
      .addColumn('trace', 'text', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('signins_user_time').on('signins').columns(['user_id', 'at']).execute();
    // Throttling counts recent failures. Partial indexes hold only those rows: a busy IP's successes are never
    // scanned, and a successful sign-in does not write to them at all.
    await db.schema.createIndex('signins_user_failures').on('signins').columns(['user_id', 'at']).where(sql.ref('counted_failure'), '=', sql.lit(true)).execute();
    await db.schema.createIndex('signins_ip_failures').on('signins').columns(['ip', 'at']).where(sql.ref('counted_failure'), '=', sql.lit(true)).execute();
    await db.schema.createIndex('signins_time').on('signins').column('at').execute();

    // SPEC.md §5: blocks.
    await withAutoIncrementId(db.schema.createTable('blocks'), dialect)
      .addColumn('blocked_at', 'bigint', (col) => col.notNull())
      .addColumn('blocked_by', 'text', (col) => col.notNull())
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('country_code', 'text')
      .addColumn('phone_number', 'text')
      .addColumn('formatted_phone_number', 'text')
      .addColumn('extension', 'text')
      .addColumn('new_extension', 'text')
      .addColumn('blocked', 'boolean', (col) => col.notNull())
      .addColumn('block_reason', 'text')
      .addColumn('completed_at', 'bigint')
      .addColumn('completion_reason', 'text')
      .addColumn('account_lockout', 'boolean', (col) => col.notNull())
      .addColumn('fraud_alert', 'boolean', (col) => col.notNull())
      .addColumn('fraud_alert_not_blocked', 'boolean', (col) => col.notNull())
      .addColumn('language', 'text')
      .addColumn('expires_at', 'bigint')
      .execute();
    await db.schema.createIndex('blocks_user').on('blocks').columns(['user_id', 'blocked_at']).execute();
    await db.schema.createIndex('blocks_time').on('blocks').column('blocked_at').execute();

    // SPEC.md §5: one-time bypasses.
    await withAutoIncrementId(db.schema.createTable('bypasses'), dialect)
      .addColumn('bypassed_at', 'bigint', (col) => col.notNull())
      .addColumn('duration_seconds', 'integer', (col) => col.notNull())
      .addColumn('bypassed_by', 'text', (col) => col.notNull())
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('country_code', 'text')
      .addColumn('phone_number', 'text')
      .addColumn('formatted_phone_number', 'text')
      .addColumn('extension', 'text')
      .addColumn('new_extension', 'text')
      .addColumn('bypass_reason', 'text')
      .addColumn('completed_at', 'bigint')
      .addColumn('completion_reason', 'text')
      .addColumn('bypass_used', 'boolean', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('bypasses_user').on('bypasses').columns(['user_id', 'bypassed_at']).execute();
    await db.schema.createIndex('bypasses_time').on('bypasses').column('bypassed_at').execute();
  },
  async down(db) {
    for (const table of ['bypasses', 'blocks', 'signins', 'auth_attempts', 'challenges', 'security_answers', 'security_questions', 'oath_tokens', 'applications']) {
      await db.schema.dropTable(table).execute();
    }
    for (const column of ['bypass_id', 'block_id', 'oath_mode', 'default_method']) {
      await db.schema.alterTable('users').dropColumn(column).execute();
    }
  },
};
