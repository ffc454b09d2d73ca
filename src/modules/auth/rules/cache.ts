import { signinSuccessesRepository } from '../../../storage/repositories/signin-successes.js';
import type { ResultCode } from '../result-codes.js';
import type { CacheKind } from './reasons.js';
import { next, type ReadingRule, type RuleInput } from './rule.js';

const CODES: Record<CacheKind, ResultCode> = {
  user: 'SUCCESS_USED_CACHE',
  ip: 'SUCCESS_USED_IP_BASED_CACHE',
  app: 'SUCCESS_USED_APP_BASED_CACHE',
};
const CACHE_CODES = [CODES.user, CODES.ip, CODES.app] as const;

/**
 * SPEC.md §2 cache: a success of the same user (user), of the same user, auth
 * type and application (app), or of those and the same IP (ip) within the
 * window satisfies MFA without a new challenge. Only sign-ins that completed
 * MFA count, not earlier cache hits, so a cache cannot extend itself forever.
 */
export const cache: ReadingRule<RuleInput, 'cache_off' | 'no_cache_entry' | 'cache_hit'> = {
  name: 'cache',
  effects: 'none',
  async evaluate({ db, clock, config, user, application, ip, authType }) {
    const kind = config.cacheKind;
    if (kind === 'none' || config.cacheSeconds === 0) return next('cache_off');
    const at = await signinSuccessesRepository.latestWithMfa(db, {
      userId: user.id,
      since: clock.now() - config.cacheSeconds * 1000,
      exceptCodes: CACHE_CODES,
      ...(kind !== 'user' ? { sameApplication: { applicationId: application.id, authType } } : {}),
      ...(kind === 'ip' ? { sameIp: { ip } } : {}),
    });
    if (at === null) return next('no_cache_entry', { kind });
    return {
      outcome: 'allow',
      reason: { code: 'cache_hit', kind, succeeded_at: new Date(at).toISOString() },
      code: CODES[kind],
      detail: 'satisfied by strong authentication',
      mfaRequired: true,
    };
  },
};
