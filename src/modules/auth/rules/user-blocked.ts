import { next, type ReadingRule, type RuleInput } from './rule.js';

/** SPEC.md §2 SUCCESS_USER_BLOCKED: blocked by an administrator, by the user during a call, or by a fraud alert. */
export const userBlocked: ReadingRule<RuleInput, 'not_blocked' | 'user_blocked'> = {
  name: 'user_blocked',
  effects: 'none',
  async evaluate({ user }) {
    if (user.block_id === null) return next('not_blocked');
    return { outcome: 'deny', reason: { code: 'user_blocked' }, code: 'SUCCESS_USER_BLOCKED', detail: 'user is blocked', mfaRequired: true };
  },
};
