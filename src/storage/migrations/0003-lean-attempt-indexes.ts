import type { Migration } from '../migrator.js';

/**
 * Every authentication writes an attempt record and a sign-in event, and an
 * index keyed by user puts each new entry on a random page: one more page to
 * write per authentication. The sign-in event already has that index and
 * points at its attempt (signins.attempt_id), so a user's attempts are found
 * through their sign-ins; the attempt records keep only their time index.
 */
export const leanAttemptIndexes: Migration = {
  name: '0003-lean-attempt-indexes',
  async up(db) {
    await db.schema.dropIndex('auth_attempts_user_time').execute();
  },
  async down(db) {
    await db.schema.createIndex('auth_attempts_user_time').on('auth_attempts').columns(['user_id', 'at']).execute();
  },
};
