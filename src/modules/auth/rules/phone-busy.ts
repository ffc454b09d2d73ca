import { next, type ReadingRule, type RuleInput } from './rule.js';

/** SPEC.md §2 FAILED_PHONE_BUSY: a second request while a challenge for the user is still open. */
export const phoneBusy: ReadingRule<RuleInput, 'none_in_progress' | 'in_progress'> = {
  name: 'phone_busy',
  effects: 'none',
  async evaluate({ openChallenges }) {
    const open = openChallenges[0];
    if (!open) return next('none_in_progress');
    return { outcome: 'deny', reason: { code: 'in_progress', challenge: open }, code: 'FAILED_PHONE_BUSY', detail: 'duplicate authentication attempt', mfaRequired: true };
  },
};
