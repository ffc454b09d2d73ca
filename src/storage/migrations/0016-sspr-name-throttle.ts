import { sql } from 'kysely';
import type { Migration } from '../migrator.js';

/**
 * Self-service throttles count by the name asked for (its key), not by the
 * user found: an unknown name then meets the same limits, and the same
 * answers, as a real one, and throttling tells nobody which names exist.
 * Events written before keep their lower-cased name as key.
 */
export const ssprNameThrottle: Migration = {
  name: '0016-sspr-name-throttle',
  async up(db) {
    await db.schema.alterTable('sspr_events').addColumn('username_key', 'text').execute();
    await sql`update sspr_events set username_key = lower(username) where username <> ''`.execute(db);
    await db.schema.createIndex('sspr_events_name').on('sspr_events').columns(['username_key', 'step', 'at']).execute();
  },
  async down(db) {
    await db.schema.dropIndex('sspr_events_name').execute();
    await db.schema.alterTable('sspr_events').dropColumn('username_key').execute();
  },
};
