import { sql } from 'kysely';
import type { Executor } from '../database.js';
import { prepared } from '../prepared.js';

/** How many sign-ins counted as failures since a time, and when the oldest of them was (null: none). */
export interface FailureCount {
  count: number;
  oldest: number | null;
}

/** Failed sign-ins of one user or one client IP counted towards throttling since a time, and the oldest one's time. */
const failuresSince = (db: Executor, column: 'user_id' | 'ip', value: string | null, since: number) =>
  db
    .selectFrom('signins')
    .select([sql<number>`count(*)`.as('count'), sql<number | null>`min(at)`.as('oldest')])
    .where(column, '=', value)
    .where('at', '>', since)
    // The literal (not a bound parameter) matches the partial index's condition, so the index is used.
    .where(sql.ref('counted_failure'), '=', sql.lit(true));

const failuresBy = (column: 'user_id' | 'ip') =>
  prepared<{ value: string; since: number }, { count: number; oldest: number | null }>((db, param) => failuresSince(db, column, param('value'), param('since')));
const FAILURES = { user_id: failuresBy('user_id'), ip: failuresBy('ip') };

/**
 * Both counts every authentication needs in one statement: on PostgreSQL
 * each statement is a round trip. An IP of null matches no row.
 */
const userAndIp = prepared<{ user: string; userSince: number; ip: string | null; ipSince: number }, { user_count: number; user_oldest: number | null; ip_count: number; ip_oldest: number | null }>((db, param) =>
  db
    .selectFrom([failuresSince(db, 'user_id', param('user'), param('userSince')).as('u'), failuresSince(db, 'ip', param('ip'), param('ipSince')).as('i')])
    .select(['u.count as user_count', 'u.oldest as user_oldest', 'i.count as ip_count', 'i.oldest as ip_oldest']),
);

// PostgreSQL answers count(*) as a bigint, which pg gives as text, and min(at) likewise.
const counted = (count: number | string, oldest: number | string | null): FailureCount => ({ count: Number(count), oldest: oldest === null ? null : Number(oldest) });

/**
 * The sign-ins that count towards throttling (`signins.counted_failure`),
 * counted per user and per client IP in sliding windows. Only reads: the
 * throttle rule decides what the counts mean. Both queries are prepared,
 * since every authentication runs them.
 */
export const signinFailuresRepository = {
  /** The failures of one user (`user_id`) or of one client IP (`ip`) since a time. */
  async since(db: Executor, by: 'user_id' | 'ip', value: string, since: number): Promise<FailureCount> {
    const row = (await FAILURES[by](db, { value, since })).rows[0]!;
    return counted(row.count, row.oldest);
  },

  /** A user's failures since one time and a client IP's since another, in one statement (`ip` null: the IP's count is 0). */
  async ofUserAndIp(db: Executor, query: { user: string; userSince: number; ip: string | null; ipSince: number }): Promise<{ user: FailureCount; ip: FailureCount }> {
    const row = (await userAndIp(db, query)).rows[0]!;
    return { user: counted(row.user_count, row.user_oldest), ip: counted(row.ip_count, row.ip_oldest) };
  },
};
