import { bypassesRepository } from '../../../storage/repositories/blocks.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import { next, type Rule } from './rule.js';

/**
 * A one-time bypass lets the next authentication in its window through
 * (SUCCESS_BYPASSED_AUTH) and is used up. The unit holds the user's lock, so
 * no other authentication of the user sees the bypass open meanwhile; the
 * completing update is still conditional, and only the unit whose update
 * changed the record uses it.
 */
export const bypass: Rule = {
  name: 'bypass',
  async evaluate({ db, clock, user }) {
    if (user.bypass_id === null) return next('no bypass');
    const id = Number(user.bypass_id);
    const record = await bypassesRepository.findById(db, id);
    const now = clock.now();
    await usersRepository.update(db, user.id, { bypass_id: null });
    user.bypass_id = null;
    if (!record || record.completed_at !== null) return next('the bypass had ended');
    if (record.expires_at <= now) {
      await bypassesRepository.complete(db, id, now, 'expired');
      return next('the bypass expired unused');
    }
    if (!(await bypassesRepository.complete(db, id, now, 'used'))) return next('the bypass had ended');
    return { outcome: 'allow', reason: `one-time bypass ${id} used`, code: 'SUCCESS_BYPASSED_AUTH', detail: 'successfully completed', mfaRequired: true };
  },
};
