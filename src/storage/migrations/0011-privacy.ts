import { sql } from 'kysely';
import type { Migration } from '../migrator.js';

/**
 * Privacy requests and retention (SPEC.md §5–§6):
 * - `log_keys`: one random key per user and UTC day that seals the personal
 *   fields of that user's service-log lines. The privacy delete and the
 *   retention purge destroy keys, which leaves the lines unreadable without
 *   rewriting any log file or syslog copy (docs/privacy.md).
 * - sign-ins of names that match no user (user_id null) by lower-case name,
 *   so the privacy delete of a name finds them without reading the whole log;
 *   partial, so an ordinary sign-in never writes to it;
 * - the telephony log by number, for messages from a user's phone that came
 *   before the number was known;
 * - time indexes for the retention purge where a table had none.
 */
export const privacy: Migration = {
  name: '0011-privacy',
  async up(db) {
    await db.schema
      .createTable('log_keys')
      .addColumn('user_id', 'text', (col) => col.notNull())
      .addColumn('day', 'integer', (col) => col.notNull())
      .addColumn('key_sealed', 'text', (col) => col.notNull())
      .addPrimaryKeyConstraint('log_keys_pk', ['user_id', 'day'])
      .execute();
    await db.schema.createIndex('log_keys_day').on('log_keys').column('day').execute();
    await db.schema
      .createIndex('signins_unknown_user')
      .on('signins')
      .expression(sql`lower(username)`)
      .where(sql.ref('user_id'), 'is', null)
      .execute();
    await db.schema.createIndex('telephony_log_number').on('telephony_log').column('to_number').execute();
    await db.schema.createIndex('telephony_log_time').on('telephony_log').column('created_at').execute();
    await db.schema.createIndex('app_activations_time').on('app_activations').column('at').execute();
    await db.schema.createIndex('challenges_created').on('challenges').column('created_at').execute();
  },
  async down(db) {
    await db.schema.dropIndex('challenges_created').execute();
    await db.schema.dropIndex('app_activations_time').execute();
    await db.schema.dropIndex('telephony_log_time').execute();
    await db.schema.dropIndex('telephony_log_number').execute();
    await db.schema.dropIndex('signins_unknown_user').execute();
    await db.schema.dropTable('log_keys').execute();
  },
};
