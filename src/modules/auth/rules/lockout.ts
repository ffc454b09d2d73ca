import { blocksRepository } from '../../../storage/repositories/blocks.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import { next, type Rule } from './rule.js';

/** A lockout block (too many failures) denies with FAILED_AUTHENTICATION_THROTTLED until it ends, then completes itself. */
export const lockout: Rule = {
  name: 'lockout',
  async evaluate({ db, clock, user }) {
    if (user.block_id === null) return next('no open block');
    const block = await blocksRepository.findById(db, Number(user.block_id));
    if (!block || !block.account_lockout) return next('no lockout');
    const now = clock.now();
    if (block.expires_at !== null && block.expires_at <= now) {
      await blocksRepository.complete(db, Number(block.id), now, 'lockout ended');
      await usersRepository.update(db, user.id, { block_id: null });
      user.block_id = null;
      return next('the lockout has ended');
    }
    const until = block.expires_at === null ? 'an administrator unblocks' : new Date(block.expires_at).toISOString();
    return { outcome: 'deny', reason: `locked out until ${until}`, code: 'FAILED_AUTHENTICATION_THROTTLED', detail: 'entered incorrect code too many times', mfaRequired: true };
  },
};
