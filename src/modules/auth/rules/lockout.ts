import { blocksRepository } from '../../../storage/repositories/blocks.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import { next, type RuleInput, type WritingRule } from './rule.js';

/**
 * A lockout block (too many failures) denies with FAILED_AUTHENTICATION_THROTTLED
 * until it ends. The first sign-in after its end completes it: the block
 * record and the user's open block change in the unit.
 */
export const lockout: WritingRule<RuleInput, 'no_open_block' | 'not_a_lockout' | 'lockout_ended' | 'locked_out'> = {
  name: 'lockout',
  effects: 'writes',
  tables: ['blocks', 'users'],
  async evaluate({ db, clock, user }) {
    if (user.block_id === null) return next('no_open_block');
    const block = await blocksRepository.findById(db, Number(user.block_id));
    if (!block || !block.account_lockout) return next('not_a_lockout');
    const now = clock.now();
    if (block.expires_at !== null && block.expires_at <= now) {
      await blocksRepository.complete(db, Number(block.id), now, 'lockout ended');
      await usersRepository.update(db, user.id, { block_id: null });
      user.block_id = null;
      return next('lockout_ended', { block: Number(block.id) });
    }
    const until = block.expires_at === null ? null : new Date(block.expires_at).toISOString();
    return { outcome: 'deny', reason: { code: 'locked_out', until }, code: 'FAILED_AUTHENTICATION_THROTTLED', detail: 'entered incorrect code too many times', mfaRequired: true };
  },
};
