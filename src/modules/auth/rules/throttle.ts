import { sql } from 'kysely';
import type { Executor } from '../../../storage/database.js';
import { prepared } from '../../../storage/prepared.js';
import { next, type Rule, type RuleInput } from './rule.js';

const DAY_MS = 24 * 3600 * 1000;

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
 * Both counts every authentication needs, the user's failures of the last 24
 * hours and the client IP's in its window, in one statement: on PostgreSQL
 * each statement is a round trip. An IP of null matches no row.
 */
const userDayAndIp = prepared<{ user: string; daySince: number; ip: string | null; ipSince: number }, { user_count: number; user_oldest: number | null; ip_count: number; ip_oldest: number | null }>((db, param) =>
  db
    .selectFrom([failuresSince(db, 'user_id', param('user'), param('daySince')).as('u'), failuresSince(db, 'ip', param('ip'), param('ipSince')).as('i')])
    .select(['u.count as user_count', 'u.oldest as user_oldest', 'i.count as ip_count', 'i.oldest as ip_oldest']),
);

interface Counted {
  count: number;
  oldest: number | null;
}

const counted = (count: number | string, oldest: number | string | null): Counted => ({ count: Number(count), oldest: oldest === null ? null : Number(oldest) });

async function failures(db: Executor, column: 'user_id' | 'ip', value: string, since: number): Promise<Counted> {
  const row = (await FAILURES[column](db, { value, since })).rows[0]!;
  return counted(row.count, row.oldest);
}

const ipReasonOf = (byIp: Counted, ip: string, config: RuleInput['config']): string | null =>
  byIp.count >= config.ipFailureLimit ? `${byIp.count} failures from ${ip} in ${config.ipFailureWindowSeconds} s` : null;

/** The denial reason when the client IP is over its failure limit, or null. */
export async function ipThrottled(db: Executor, now: number, config: RuleInput['config'], ip: string | null): Promise<string | null> {
  if (!ip) return null;
  return ipReasonOf(await failures(db, 'ip', ip, now - config.ipFailureWindowSeconds * 1000), ip, config);
}

/**
 * Failed attempts per user and per client IP in sliding windows (SPEC.md §2
 * FAILED_AUTHENTICATION_THROTTLED). With the defaults a user gets at most 5
 * wrong codes per 15 minutes and 20 per day: against a 6-digit TOTP code
 * accepted at 3 time steps an online guesser has at most 20 × 3 / 10^6 =
 * 6 × 10^-5 < 10^-4 chance per day (docs/authentication.md; tested with a fake clock).
 * Crossing a user limit opens an account-lockout block record.
 */
export const throttle: Rule = {
  name: 'throttle',
  async evaluate(input: RuleInput) {
    const { db, clock, config, user, ip, blocks } = input;
    const now = clock.now();
    const row = (await userDayAndIp(db, { user: user.id, daySince: now - DAY_MS, ip, ipSince: now - config.ipFailureWindowSeconds * 1000 })).rows[0]!;
    const ipReason = ip ? ipReasonOf(counted(row.ip_count, row.ip_oldest), ip, config) : null;
    if (ipReason) return { outcome: 'deny', reason: ipReason, code: 'FAILED_AUTHENTICATION_THROTTLED', detail: 'entered incorrect code too many times', mfaRequired: true };
    const day = counted(row.user_count, row.user_oldest);
    const recent = day.count === 0 ? day : await failures(db, 'user_id', user.id, now - config.userFailureWindowSeconds * 1000);
    let until: number | null = null;
    if (recent.count >= config.userFailureLimit) until = recent.oldest! + config.userFailureWindowSeconds * 1000;
    if (day.count >= config.userDailyFailureLimit) until = Math.max(until ?? 0, day.oldest! + DAY_MS);
    if (until === null) return next(`${recent.count} recent failures, ${day.count} today`);
    const expiresAt = Math.max(until, now + config.lockoutSeconds * 1000);
    await blocks.blockInTransaction(db, user, { reason: 'too many failed authentications', accountLockout: true, expiresAt, blockedBy: 'system:throttle' });
    return {
      outcome: 'deny',
      reason: `${recent.count} failures in ${config.userFailureWindowSeconds} s, ${day.count} in 24 h: locked out until ${new Date(expiresAt).toISOString()}`,
      code: 'FAILED_AUTHENTICATION_THROTTLED',
      detail: 'entered incorrect code too many times',
      mfaRequired: true,
    };
  },
};
