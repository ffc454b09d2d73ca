import { next, type Rule } from './rule.js';

/** SPEC.md §2 SUCCESS_USER_BLOCKED: blocked by an administrator, by the user during a call, or by a fraud alert. */
export const userBlocked: Rule = {
  name: 'user_blocked',
  async evaluate({ user }) {
    if (user.block_id === null) return next('not blocked');
    return { outcome: 'deny', reason: 'the user is blocked', code: 'SUCCESS_USER_BLOCKED', detail: 'user is blocked', mfaRequired: true };
  },
};
