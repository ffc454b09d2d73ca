import { next, type Rule } from './rule.js';

/** SPEC.md §1 per-user MFA state: Disabled needs no second factor; Enabled and Enforced do. */
export const mfaState: Rule = {
  name: 'mfa_state',
  async evaluate({ user }) {
    if (user.mfa_state !== 'Disabled') return next(`per-user MFA state is ${user.mfa_state}`);
    return { outcome: 'allow', reason: 'per-user MFA state is Disabled', code: null, detail: null, mfaRequired: false };
  },
};
