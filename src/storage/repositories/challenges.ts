import type { Executor } from '../database.js';
import type { ChallengeRow, ChallengesTable } from '../schema.js';
import { sql, type Insertable, type Updateable } from 'kysely';
import { prepared } from '../prepared.js';

// Prepared: every authentication asks it.
const pendingOfUser = prepared<{ userId: string }, Pick<ChallengeRow, 'id' | 'expires_at'>>((db, param) =>
  db.selectFrom('challenges').select(['id', 'expires_at']).where('user_id', '=', param('userId')).where('status', '=', 'pending'),
);

async function pendingOnly(db: Executor, id: string, patch: Updateable<ChallengesTable>): Promise<void> {
  const result = await db.updateTable('challenges').set(patch).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new Error(`challenge ${id} is no longer pending: its user's lock was not held`);
}

export const challengesRepository = {
  async insert(db: Executor, row: Insertable<ChallengesTable>): Promise<void> {
    await db.insertInto('challenges').values(row).execute();
  },

  findById(db: Executor, id: string): Promise<ChallengeRow | undefined> {
    return db.selectFrom('challenges').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /**
   * Saves the next step of a pending challenge. Conditional on its still
   * being pending: the caller holds its user's lock, so it is, and a unit
   * that finds otherwise fails rather than write over another's end.
   */
  async advance(db: Executor, id: string, patch: Omit<Updateable<ChallengesTable>, 'status'>): Promise<void> {
    await pendingOnly(db, id, patch);
  },

  /** Ends a pending challenge (allow or deny), on the same condition as `advance`. */
  async end(db: Executor, id: string, patch: Updateable<ChallengesTable> & { status: 'allow' | 'deny' }): Promise<void> {
    await pendingOnly(db, id, patch);
  },

  /** The user's pending challenges, expired or not (one index lookup on user and status). */
  async pendingForUser(db: Executor, userId: string): Promise<Pick<ChallengeRow, 'id' | 'expires_at'>[]> {
    return (await pendingOfUser(db, { userId })).rows;
  },

  /** Pending challenges of the users whose primary phone is `e164` (+ country code and number), newest first. */
  pendingForPhone(db: Executor, e164: string): Promise<ChallengeRow[]> {
    return db
      .selectFrom('challenges')
      .innerJoin('users', 'users.id', 'challenges.user_id')
      .selectAll('challenges')
      .where('challenges.status', '=', 'pending')
      .where(sql<string>`'+' || users.phone_country_code || users.phone_number`, '=', e164)
      .orderBy('challenges.created_at', 'desc')
      .execute();
  },

  /** The user's pending primary challenges of one method still open at `now`, oldest first, with the name of the application each is for. */
  openOfUserByMethod(db: Executor, userId: string, method: string, now: number): Promise<(ChallengeRow & { application: string })[]> {
    return db
      .selectFrom('challenges')
      .innerJoin('applications', 'applications.id', 'challenges.application_id')
      .selectAll('challenges')
      .select('applications.name as application')
      .where('challenges.user_id', '=', userId)
      .where('challenges.status', '=', 'pending')
      .where('challenges.method', '=', method)
      .where('challenges.stage', '=', 'primary')
      .where('challenges.expires_at', '>', now)
      .orderBy('challenges.created_at')
      .execute();
  },

  /** Pending challenges past their expiry, of everyone (the sweeper). */
  expired(db: Executor, now: number, limit = 100): Promise<ChallengeRow[]> {
    return db.selectFrom('challenges').selectAll().where('status', '=', 'pending').where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
  },
};
