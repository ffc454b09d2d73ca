import { CLAIM_DETAILS } from '../../access/claims.js';
import { next, type SatisfyRule } from './rule.js';

/**
 * SPEC.md §3 "satisfied by claim in the token" and "satisfied by claim
 * provided by external provider": a signed JWT from a trusted issuer that
 * names the user and carries an MFA `amr` value. A token that does not
 * verify is not an error: the user is challenged, and the trace says why.
 */
export const tokenClaim: SatisfyRule = {
  name: 'token_claim',
  async evaluate({ claimToken, claimIssuers, user, clock }) {
    if (claimToken === undefined) return next('no claim token');
    const check = await claimIssuers.check(claimToken, user.username, clock.now());
    if (!check.ok) return next(check.reason);
    return { outcome: 'allow', reason: `MFA claim from ${check.issuer}`, code: null, detail: CLAIM_DETAILS[check.kind], mfaRequired: true };
  },
};
