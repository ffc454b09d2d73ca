import type { Migration } from '../migrator.js';

/**
 * Telephony (SPEC.md §1 SMS and voice): the per-user SMS settings and the
 * telephony log, one row per text message or call with its provider id and
 * status history. The log is personal data of the user it was sent to (the
 * privacy export and delete include it).
 */
export const telephony: Migration = {
  name: '0004-telephony',
  async up(db) {
    // SPEC.md §1 SMS mode: otp (the code alone) or otp_pin (the code, then the user's PIN).
    await db.schema.alterTable('users').addColumn('sms_mode', 'text', (col) => col.notNull().defaultTo('otp')).execute();
    // SPEC.md §1 SMS direction: one_way (the user types the code into the application) or two_way (the user replies to the text).
    await db.schema.alterTable('users').addColumn('sms_direction', 'text', (col) => col.notNull().defaultTo('one_way')).execute();
    await db.schema
      .createTable('telephony_log')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text')
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('kind', 'text', (col) => col.notNull()) // sms | call
      .addColumn('direction', 'text', (col) => col.notNull()) // outbound | inbound
      .addColumn('gateway', 'text', (col) => col.notNull())
      .addColumn('to_number', 'text', (col) => col.notNull())
      // Kept only by the outbox gateway, whose whole purpose is to show it; never for a real carrier.
      .addColumn('body', 'text')
      .addColumn('provider_id', 'text')
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('history', 'text', (col) => col.notNull())
      .addColumn('cost', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('telephony_log_user').on('telephony_log').columns(['user_id', 'created_at']).execute();
    await db.schema.createIndex('telephony_log_gateway').on('telephony_log').columns(['gateway', 'created_at']).execute();
  },
  async down(db) {
    await db.schema.dropTable('telephony_log').execute();
    await db.schema.alterTable('users').dropColumn('sms_direction').execute();
    await db.schema.alterTable('users').dropColumn('sms_mode').execute();
  },
};
