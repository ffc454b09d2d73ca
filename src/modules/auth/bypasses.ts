import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import type { Db, UnitOfWork } from '../../storage/database.js';
import { bypassesRepository } from '../../storage/repositories/blocks.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { BypassRow } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import type { Directory, Page } from '../directory/directory.js';
import { historyPage, iso, phoneSnapshot, type PhoneRecordFields } from './record-helpers.js';

export interface BypassView extends PhoneRecordFields {
  id: number;
  bypassed_at: string;
  duration_seconds: number;
  bypassed_by: string;
  user_id: string;
  username: string;
  bypass_reason: string | null;
  completed_at: string | null;
  completion_reason: string | null;
  bypass_used: boolean;
  expires_at: string;
}

export const toBypassView = (row: BypassRow): BypassView => ({
  ...row,
  id: Number(row.id),
  bypassed_at: iso(row.bypassed_at)!,
  completed_at: iso(row.completed_at),
  bypass_used: Boolean(row.bypass_used),
  expires_at: iso(row.expires_at)!,
});

/** Longest one-time bypass an administrator can grant: 30 days. */
export const MAX_BYPASS_SECONDS = 30 * 24 * 3600;

/**
 * One-time bypasses (SPEC.md §5): the next authentication of the user within
 * the window succeeds with SUCCESS_BYPASSED_AUTH and completes the record as
 * "used"; an unused one completes as "expired" or "cancelled".
 */
export class Bypasses {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock; directory: Directory }) {}

  async grant(username: string, input: { seconds: number; reason: string }, actor: Actor): Promise<BypassView> {
    assert(Number.isInteger(input.seconds) && input.seconds >= 1 && input.seconds <= MAX_BYPASS_SECONDS, 'validation_failed', `seconds: must be 1 to ${MAX_BYPASS_SECONDS}`, {
      field: 'seconds',
    });
    const reason = input.reason.trim();
    assert(reason.length >= 1 && reason.length <= 500, 'validation_failed', 'reason: must be 1 to 500 characters', { field: 'reason' });
    const now = this.deps.clock.now();
    return this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      if (user.bypass_id !== null) await bypassesRepository.complete(trx, Number(user.bypass_id), now, 'replaced');
      const id = await bypassesRepository.insert(trx, {
        bypassed_at: now,
        duration_seconds: input.seconds,
        bypassed_by: `${actor.type}:${actor.id}`,
        user_id: user.id,
        username: user.username,
        ...phoneSnapshot(user),
        bypass_reason: reason,
        completed_at: null,
        completion_reason: null,
        bypass_used: 0,
        expires_at: now + input.seconds * 1000,
      });
      await usersRepository.update(trx, user.id, { bypass_id: id });
      await writeAudit(trx, this.deps.clock, actor, { action: 'user.bypass', targetType: 'user', targetId: user.id, details: { bypass_id: id, seconds: input.seconds } });
      return toBypassView((await bypassesRepository.findById(trx, id))!);
    });
  }

  async cancel(username: string, actor: Actor): Promise<BypassView> {
    const now = this.deps.clock.now();
    return this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      if (user.bypass_id === null) throw appError('not_found', `user ${username} has no open bypass`);
      const id = Number(user.bypass_id);
      await bypassesRepository.complete(trx, id, now, 'cancelled');
      await usersRepository.update(trx, user.id, { bypass_id: null });
      await writeAudit(trx, this.deps.clock, actor, { action: 'user.bypass_cancel', targetType: 'user', targetId: user.id, details: { bypass_id: id } });
      return toBypassView((await bypassesRepository.findById(trx, id))!);
    });
  }

  async history(options: { username?: string; cursor?: string; limit?: number }): Promise<Page<BypassView>> {
    const userId = options.username ? (await this.deps.directory.find(this.deps.db, options.username)).id : undefined;
    return historyPage(options, (beforeId, limit) => bypassesRepository.list(this.deps.db, { userId, beforeId, limit }), toBypassView);
  }
}
