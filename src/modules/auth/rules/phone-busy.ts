import { next, type Rule } from './rule.js';

/** SPEC.md §2 FAILED_PHONE_BUSY: a second request while a challenge for the user is still open. */
export const phoneBusy: Rule = {
  name: 'phone_busy',
  async evaluate({ db, clock, user }) {
    const open = await db
      .selectFrom('challenges')
      .select('id')
      .where('user_id', '=', user.id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', clock.now())
      .limit(1)
      .executeTakeFirst();
    if (!open) return next('no authentication in progress');
    return { outcome: 'deny', reason: `authentication ${open.id} is in progress`, code: 'FAILED_PHONE_BUSY', detail: 'duplicate authentication attempt', mfaRequired: true };
  },
};
