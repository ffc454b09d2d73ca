import { sql } from 'kysely';
import type { Executor } from '../database.js';

const DAY = 86_400_000;

/** Sign-ins of one day counted by the columns reports break them down by. */
export interface SigninGroup {
  day: number;
  method: string | null;
  entry_point: string;
  status: string;
  mfa_required: boolean;
  detail: string | null;
  signins: number;
}

/** A user's failed sign-ins on a day on which they reached the repeated-failures threshold. */
export interface DayFailures {
  day: number;
  username: string;
  failures: number;
}

/** UTC calendar day number (days since the epoch) of a time, as both dialects compute it. */
const dayOf = sql<number>`at / ${sql.lit(DAY)}`;

/**
 * The daily roll-ups of the sign-in log (tables `signin_rollups`,
 * `signin_rollup_failures`, `signin_rollup_days`; modules/reports/rollups.ts)
 * and the grouping of the log they are made of.
 */
export const signinRollupsRepository = {
  /** The sign-ins of [from, to), grouped: one scan of the time index. */
  async groupSignins(db: Executor, from: number, to: number): Promise<SigninGroup[]> {
    const rows = await db
      .selectFrom('signins')
      .where('at', '>=', from)
      .where('at', '<', to)
      .select((eb) => [dayOf.as('day'), 'method', 'entry_point', 'status', 'mfa_required', 'detail', eb.fn.countAll<number>().as('signins')])
      .groupBy([dayOf, 'method', 'entry_point', 'status', 'mfa_required', 'detail'])
      .execute();
    return rows.map((row) => ({ ...row, day: Math.floor(Number(row.day)), mfa_required: Boolean(row.mfa_required), signins: Number(row.signins) }));
  },

  /** Users with at least `threshold` failed sign-ins within a UTC day of [from, to). */
  async repeatedFailures(db: Executor, from: number, to: number, threshold: number): Promise<DayFailures[]> {
    const rows = await db
      .selectFrom('signins')
      .where('at', '>=', from)
      .where('at', '<', to)
      .where('status', '=', 'failure')
      .select((eb) => [dayOf.as('day'), 'username', eb.fn.countAll<number>().as('failures')])
      .groupBy([dayOf, 'username'])
      .having((eb) => eb.fn.countAll(), '>=', threshold)
      .execute();
    return rows.map((row) => ({ day: Math.floor(Number(row.day)), username: row.username, failures: Number(row.failures) }));
  },

  /** The time of the oldest sign-in, if any. */
  async oldestSigninAt(db: Executor): Promise<number | undefined> {
    const oldest = await db.selectFrom('signins').select('at').orderBy('at').limit(1).executeTakeFirst();
    return oldest ? Number(oldest.at) : undefined;
  },

  /** The days of [first, end) whose roll-up is made. */
  async rolledDays(db: Executor, first: number, end: number): Promise<Set<number>> {
    const rows = await db.selectFrom('signin_rollup_days').select('day').where('day', '>=', first).where('day', '<', end).execute();
    return new Set(rows.map((row) => Number(row.day)));
  },

  /** The rolled-up groups and repeated failures of the days [first, end). */
  async read(db: Executor, first: number, end: number): Promise<{ groups: SigninGroup[]; failures: DayFailures[] }> {
    const rolled = await db.selectFrom('signin_rollups').selectAll().where('day', '>=', first).where('day', '<', end).execute();
    const rolledFailures = await db.selectFrom('signin_rollup_failures').selectAll().where('day', '>=', first).where('day', '<', end).execute();
    return {
      groups: rolled.map((row) => ({ ...row, day: Number(row.day), mfa_required: Boolean(row.mfa_required), signins: Number(row.signins) })),
      failures: rolledFailures.map((row) => ({ day: Number(row.day), username: row.username, failures: Number(row.failures) })),
    };
  },

  /**
   * Writes one day's roll-up. The day's own row goes last: its primary key
   * makes the second of two nodes rolling up the same day fail (a unique
   * violation) rather than both commit.
   */
  async insertDay(db: Executor, day: number, rolledAt: number, groups: SigninGroup[], failures: DayFailures[]): Promise<void> {
    for (let index = 0; index < groups.length; index += 500) {
      await db
        .insertInto('signin_rollups')
        .values(groups.slice(index, index + 500).map((group) => ({ ...group, mfa_required: group.mfa_required ? 1 : 0 })))
        .execute();
    }
    for (let index = 0; index < failures.length; index += 500) await db.insertInto('signin_rollup_failures').values(failures.slice(index, index + 500)).execute();
    await db.insertInto('signin_rollup_days').values({ day, rolled_at: rolledAt }).execute();
  },

  /** Deletes the repeated-failure counts of days before `day` (retention: they name users, so they go with the sign-ins). */
  async deleteFailuresBefore(db: Executor, day: number): Promise<number> {
    const result = await db.deleteFrom('signin_rollup_failures').where('day', '<', day).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
