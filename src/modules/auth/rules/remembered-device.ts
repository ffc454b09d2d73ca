import { daysToMs, readRememberToken } from '../../access/remember.js';
import type { DetailsArgs } from './reasons.js';
import { next, type ReadingRule, type SatisfyInput } from './rule.js';

type Code = 'no_remember_token' | 'remember_token_invalid' | 'remembered_devices_revoked' | 'policy_does_not_remember' | 'remembered_too_long' | 'device_remembered';

/** A genuine token the policy no longer honours: evaluation goes on, and the sign-in shows the token's step as expired. */
const expired = <C extends Code>(code: C, ...details: DetailsArgs<C>) => ({
  ...next(code, ...details),
  step: { method: 'remembered_device' as const, detail: 'expired due to the policies configured on tenant' as const },
});

/**
 * SPEC.md §3 "skipped due to remembered device": a token issued after this
 * user's successful MFA, within the days the requiring policy allows now (a
 * policy shortened since shortens the tokens it issued), and not revoked.
 * A genuine token the policy no longer honours shows in the sign-in as
 * "expired due to the policies configured on tenant", and the user is
 * challenged; a token that is not genuine is ignored.
 */
export const rememberedDevice: ReadingRule<SatisfyInput, Code> = {
  name: 'remembered_device',
  effects: 'none',
  async evaluate({ rememberToken, keyring, user, clock, requirement }) {
    if (rememberToken === undefined) return next('no_remember_token');
    const token = readRememberToken(keyring, rememberToken);
    if (!token || token.userId !== user.id) return next('remember_token_invalid');
    const now = clock.now();
    if (user.remembered_devices_revoked_at !== null && token.issuedAt <= Number(user.remembered_devices_revoked_at)) return expired('remembered_devices_revoked');
    const { policy, rememberDays } = requirement;
    if (rememberDays === null) return expired('policy_does_not_remember', { policy });
    const until = Math.min(token.expiresAt, token.issuedAt + daysToMs(rememberDays));
    if (until <= now) return expired('remembered_too_long', { since: new Date(token.issuedAt).toISOString(), policy, days: rememberDays });
    return { outcome: 'allow', reason: { code: 'device_remembered', until: new Date(until).toISOString() }, code: null, detail: 'skipped due to remembered device', mfaRequired: true };
  },
};
