import { bypassesRepository } from '../../../storage/repositories/blocks.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import { next, type RuleInput, type WritingRule } from './rule.js';

/**
 * A one-time bypass lets the next authentication in its window through
 * (SUCCESS_BYPASSED_AUTH) and is used up. The unit holds the user's lock, so
 * no other authentication of the user sees the bypass open meanwhile; the
 * completing update is still conditional, and only the unit whose update
 * changed the record uses it. The user's open bypass is cleared whatever
 * happened to it: used, expired, or ended by someone else.
 */
export const bypass: WritingRule<RuleInput, 'no_bypass' | 'bypass_ended' | 'bypass_expired' | 'bypass_used'> = {
  name: 'bypass',
  effects: 'writes',
  tables: ['bypasses', 'users'],
  async evaluate({ db, clock, user }) {
    if (user.bypass_id === null) return next('no_bypass');
    const id = Number(user.bypass_id);
    const record = await bypassesRepository.findById(db, id);
    const now = clock.now();
    await usersRepository.update(db, user.id, { bypass_id: null });
    user.bypass_id = null;
    if (!record || record.completed_at !== null) return next('bypass_ended', { bypass: id });
    if (record.expires_at <= now) {
      await bypassesRepository.complete(db, id, now, 'expired');
      return next('bypass_expired', { bypass: id });
    }
    if (!(await bypassesRepository.complete(db, id, now, 'used'))) return next('bypass_ended', { bypass: id });
    return { outcome: 'allow', reason: { code: 'bypass_used', bypass: id }, code: 'SUCCESS_BYPASSED_AUTH', detail: 'successfully completed', mfaRequired: true };
  },
};
