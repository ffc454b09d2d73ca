import type { Executor } from '../../../storage/database.js';
import { signinFailuresRepository, type FailureCount } from '../../../storage/repositories/signin-failures.js';
import type { Reason } from './reasons.js';
import { next, type RuleInput, type WritingRule } from './rule.js';

const DAY_MS = 24 * 3600 * 1000;

const ipOverLimit = (byIp: FailureCount, ip: string, config: RuleInput['config']): Reason<'ip_over_failure_limit'> | null =>
  byIp.count >= config.ipFailureLimit ? { code: 'ip_over_failure_limit', ip, failures: byIp.count, window_seconds: config.ipFailureWindowSeconds } : null;

/** Why the client IP is over its failure limit, or null when it is not. */
export async function ipThrottled(db: Executor, now: number, config: RuleInput['config'], ip: string | null): Promise<Reason<'ip_over_failure_limit'> | null> {
  if (!ip) return null;
  return ipOverLimit(await signinFailuresRepository.since(db, 'ip', ip, now - config.ipFailureWindowSeconds * 1000), ip, config);
}

/**
 * Failed attempts per user and per client IP in sliding windows (SPEC.md §2
 * FAILED_AUTHENTICATION_THROTTLED). With the defaults a user gets at most 5
 * wrong codes per 15 minutes and 20 per day: against a 6-digit TOTP code
 * accepted at 3 time steps an online guesser has at most 20 × 3 / 10^6 =
 * 6 × 10^-5 < 10^-4 chance per day (docs/authentication.md; tested with a fake clock).
 * Crossing a user limit opens an account-lockout block record in the unit
 * (and ends the user's other open block, which it replaces).
 */
export const throttle: WritingRule<RuleInput, 'under_failure_limits' | 'ip_over_failure_limit' | 'user_over_failure_limit'> = {
  name: 'throttle',
  effects: 'writes',
  tables: ['blocks', 'users'],
  async evaluate(input: RuleInput) {
    const { db, clock, config, user, ip, blocks } = input;
    const now = clock.now();
    const counts = await signinFailuresRepository.ofUserAndIp(db, { user: user.id, userSince: now - DAY_MS, ip, ipSince: now - config.ipFailureWindowSeconds * 1000 });
    const byIp = ip ? ipOverLimit(counts.ip, ip, config) : null;
    if (byIp) return { outcome: 'deny', reason: byIp, code: 'FAILED_AUTHENTICATION_THROTTLED', detail: 'entered incorrect code too many times', mfaRequired: true };
    const day = counts.user;
    const recent = day.count === 0 ? day : await signinFailuresRepository.since(db, 'user_id', user.id, now - config.userFailureWindowSeconds * 1000);
    let until: number | null = null;
    if (recent.count >= config.userFailureLimit) until = recent.oldest! + config.userFailureWindowSeconds * 1000;
    if (day.count >= config.userDailyFailureLimit) until = Math.max(until ?? 0, day.oldest! + DAY_MS);
    if (until === null) return next('under_failure_limits', { recent: recent.count, today: day.count });
    const expiresAt = Math.max(until, now + config.lockoutSeconds * 1000);
    await blocks.blockInTransaction(db, user, { reason: 'too many failed authentications', accountLockout: true, expiresAt, blockedBy: 'system:throttle' });
    return {
      outcome: 'deny',
      reason: { code: 'user_over_failure_limit', recent: recent.count, window_seconds: config.userFailureWindowSeconds, today: day.count, until: new Date(expiresAt).toISOString() },
      code: 'FAILED_AUTHENTICATION_THROTTLED',
      detail: 'entered incorrect code too many times',
      mfaRequired: true,
    };
  },
};
