import type { ResultCode } from '../result-codes.js';
import { next, type Rule } from './rule.js';

const CODES: Record<'user' | 'ip' | 'app', ResultCode> = {
  user: 'SUCCESS_USED_CACHE',
  ip: 'SUCCESS_USED_IP_BASED_CACHE',
  app: 'SUCCESS_USED_APP_BASED_CACHE',
};

/**
 * SPEC.md §2 cache: a success of the same user (user), of the same user, auth
 * type and application (app), or of those and the same IP (ip) within the
 * window satisfies MFA without a new challenge. Only sign-ins that completed
 * MFA count, not earlier cache hits, so a cache cannot extend itself forever.
 */
export const cache: Rule = {
  name: 'cache',
  async evaluate({ db, clock, config, user, application, ip, authType }) {
    const kind = config.cacheKind;
    if (kind === 'none' || config.cacheSeconds === 0) return next('the cache is off');
    let query = db
      .selectFrom('signins')
      .select('at')
      .where('user_id', '=', user.id)
      .where('at', '>', clock.now() - config.cacheSeconds * 1000)
      .where('status', '=', 'success')
      .where('mfa_required', '=', 1)
      .where('result_code', 'not in', Object.values(CODES));
    if (kind !== 'user') query = query.where('application_id', '=', application.id).where('auth_type', '=', authType);
    if (kind === 'ip') query = ip === null ? query.where('ip', 'is', null) : query.where('ip', '=', ip);
    const hit = await query.orderBy('at', 'desc').limit(1).executeTakeFirst();
    if (!hit) return next(`no ${kind} cache entry`);
    return {
      outcome: 'allow',
      reason: `${kind} cache: succeeded at ${new Date(hit.at).toISOString()}`,
      code: CODES[kind],
      detail: 'satisfied by strong authentication',
      mfaRequired: true,
    };
  },
};
