import { daysToMs, readRememberToken } from '../../access/remember.js';
import { next, type SatisfyRule } from './rule.js';

/**
 * SPEC.md §3 "skipped due to remembered device": a token issued after this
 * user's successful MFA, within the days the requiring policy allows now (a
 * policy shortened since shortens the tokens it issued), and not revoked.
 * A genuine token the policy no longer honours shows in the sign-in as
 * "expired due to the policies configured on tenant", and the user is
 * challenged; a token that is not genuine is ignored.
 */
export const rememberedDevice: SatisfyRule = {
  name: 'remembered_device',
  async evaluate({ rememberToken, keyring, user, clock, requirement }) {
    if (rememberToken === undefined) return next('no remembered-device token');
    const token = readRememberToken(keyring, rememberToken);
    if (!token || token.userId !== user.id) return next('the remembered-device token is not valid for this user');
    const now = clock.now();
    const expired = (reason: string) => ({ outcome: 'continue' as const, reason, step: { method: 'remembered_device' as const, detail: 'expired due to the policies configured on tenant' as const } });
    if (user.remembered_devices_revoked_at !== null && token.issuedAt <= Number(user.remembered_devices_revoked_at)) return expired('the remembered devices of the user were revoked');
    if (requirement.rememberDays === null) return expired(`${requirement.policy} does not let devices remember MFA`);
    const until = Math.min(token.expiresAt, token.issuedAt + daysToMs(requirement.rememberDays));
    if (until <= now) return expired(`remembered since ${new Date(token.issuedAt).toISOString()}, longer than ${requirement.policy} allows (${requirement.rememberDays} days)`);
    return { outcome: 'allow', reason: `device remembered until ${new Date(until).toISOString()}`, code: null, detail: 'skipped due to remembered device', mfaRequired: true };
  },
};
