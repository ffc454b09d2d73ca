import { next, type Rule } from './rule.js';

/** SPEC.md §1: a disabled account may not sign in at all, whatever its MFA state. This is not an MFA block. */
export const accountDisabled: Rule = {
  name: 'account_disabled',
  async evaluate({ user }) {
    if (user.account_enabled) return next('account is enabled');
    return { outcome: 'deny', reason: 'the account is disabled', code: null, detail: null, mfaRequired: false };
  },
};
