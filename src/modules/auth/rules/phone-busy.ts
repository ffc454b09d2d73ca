import { next, type Rule } from './rule.js';

/** SPEC.md §2 FAILED_PHONE_BUSY: a second request while a challenge for the user is still open. */
export const phoneBusy: Rule = {
  name: 'phone_busy',
  async evaluate({ openChallenges }) {
    const open = openChallenges[0];
    if (!open) return next('no authentication in progress');
    return { outcome: 'deny', reason: `authentication ${open} is in progress`, code: 'FAILED_PHONE_BUSY', detail: 'duplicate authentication attempt', mfaRequired: true };
  },
};
