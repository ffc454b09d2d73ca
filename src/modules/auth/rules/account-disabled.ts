import { next, type ReadingRule, type RuleInput } from './rule.js';

/** SPEC.md §1: a disabled account may not sign in at all, whatever its MFA state. This is not an MFA block. */
export const accountDisabled: ReadingRule<RuleInput, 'account_enabled' | 'account_disabled'> = {
  name: 'account_disabled',
  effects: 'none',
  async evaluate({ user }) {
    if (user.account_enabled) return next('account_enabled');
    return { outcome: 'deny', reason: { code: 'account_disabled' }, code: null, detail: null, mfaRequired: false };
  },
};
