import { CLAIM_DETAILS } from '../../access/claims.js';
import { next, type ReadingRule, type SatisfyInput } from './rule.js';

/**
 * SPEC.md §3 "satisfied by claim in the token" and "satisfied by claim
 * provided by external provider": a signed JWT from a trusted issuer that
 * names the user and carries an MFA `amr` value. A token that does not
 * verify is not an error: the user is challenged, and the trace says why.
 */
export const tokenClaim: ReadingRule<SatisfyInput, 'no_claim_token' | 'claim_refused' | 'claim_accepted'> = {
  name: 'token_claim',
  effects: 'none',
  async evaluate({ claimToken, claimIssuers, user, clock }) {
    if (claimToken === undefined) return next('no_claim_token');
    const check = await claimIssuers.check(claimToken, user.username, clock.now());
    if (!check.ok) return next('claim_refused', { why: check.reason });
    return { outcome: 'allow', reason: { code: 'claim_accepted', issuer: check.issuer }, code: null, detail: CLAIM_DETAILS[check.kind], mfaRequired: true };
  },
};
