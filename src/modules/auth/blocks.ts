import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError } from '../../shared/errors.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { blocksRepository } from '../../storage/repositories/blocks.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { BlockRow, UserRow } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import type { Directory, Page } from '../directory/directory.js';
import { historyPage, iso, phoneSnapshot, type PhoneRecordFields } from './record-helpers.js';

export interface BlockOptions {
  reason: string;
  /** The block comes from a fraud report (voice fraud code or app report). */
  fraudAlert?: boolean;
  /** A lockout after too many failures: it ends by itself at `expiresAt`. */
  accountLockout?: boolean;
  expiresAt?: number;
  /** Who asked: "admin:<key id>", "cli:<user>", "system:throttle", "user" (during a call)... */
  blockedBy: string;
}

export interface BlockView extends PhoneRecordFields {
  id: number;
  blocked_at: string;
  blocked_by: string;
  user_id: string;
  username: string;
  blocked: boolean;
  block_reason: string | null;
  completed_at: string | null;
  completion_reason: string | null;
  account_lockout: boolean;
  fraud_alert: boolean;
  fraud_alert_not_blocked: boolean;
  language: string | null;
  expires_at: string | null;
}

export const toBlockView = (row: BlockRow): BlockView => ({
  ...row,
  id: Number(row.id),
  blocked_at: iso(row.blocked_at)!,
  blocked: Boolean(row.blocked),
  completed_at: iso(row.completed_at),
  account_lockout: Boolean(row.account_lockout),
  fraud_alert: Boolean(row.fraud_alert),
  fraud_alert_not_blocked: Boolean(row.fraud_alert_not_blocked),
  expires_at: iso(row.expires_at),
});

const actorName = (actor: Actor) => `${actor.type}:${actor.id}`;

/**
 * Blocks (SPEC.md §5): a blocked user is denied with SUCCESS_USER_BLOCKED; a
 * lockout block ends by itself and denies with FAILED_AUTHENTICATION_THROTTLED.
 * The open block's id sits on the user row so an authentication reads it with
 * the user, and the two are written in one transaction.
 */
export class Blocks {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock; directory: Directory }) {}

  /** Blocks a user inside an existing transaction (the engine's, or the admin action's). */
  async blockInTransaction(db: Executor, user: UserRow, options: BlockOptions): Promise<number> {
    const now = this.deps.clock.now();
    if (user.block_id !== null) await blocksRepository.complete(db, Number(user.block_id), now, 'replaced by a new block');
    const id = await blocksRepository.insert(db, {
      blocked_at: now,
      blocked_by: options.blockedBy,
      user_id: user.id,
      username: user.username,
      ...phoneSnapshot(user),
      blocked: 1,
      block_reason: options.reason,
      completed_at: null,
      completion_reason: null,
      account_lockout: options.accountLockout ? 1 : 0,
      fraud_alert: options.fraudAlert ? 1 : 0,
      fraud_alert_not_blocked: 0,
      language: user.language,
      expires_at: options.expiresAt ?? null,
    });
    await usersRepository.update(db, user.id, { block_id: id });
    return id;
  }

  /**
   * A fraud report (the voice fraud code, the app's report): with auth.fraudAutoBlock
   * the user is blocked with a fraud-alert block record; without it the alert is
   * still recorded, as a completed record marked "fraud alert not blocked".
   */
  async reportFraudInTransaction(db: Executor, user: UserRow, source: string, autoBlock: boolean): Promise<number> {
    if (autoBlock) return this.blockInTransaction(db, user, { reason: `fraud reported (${source})`, fraudAlert: true, blockedBy: 'user' });
    const now = this.deps.clock.now();
    return blocksRepository.insert(db, {
      blocked_at: now,
      blocked_by: 'user',
      user_id: user.id,
      username: user.username,
      ...phoneSnapshot(user),
      blocked: 0,
      block_reason: `fraud reported (${source})`,
      completed_at: now,
      completion_reason: 'fraud alert recorded; automatic blocking is off',
      account_lockout: 0,
      fraud_alert: 1,
      fraud_alert_not_blocked: 1,
      language: user.language,
      expires_at: null,
    });
  }

  /** Ends the user's open block inside an existing transaction. */
  async unblockInTransaction(db: Executor, user: UserRow, reason: string): Promise<boolean> {
    if (user.block_id === null) return false;
    await blocksRepository.complete(db, Number(user.block_id), this.deps.clock.now(), reason);
    await usersRepository.update(db, user.id, { block_id: null });
    return true;
  }

  async block(username: string, reason: string, actor: Actor): Promise<BlockView> {
    return this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      const id = await this.blockInTransaction(trx, user, { reason, blockedBy: actorName(actor) });
      await writeAudit(trx, this.deps.clock, actor, { action: 'user.block', targetType: 'user', targetId: user.id, details: { block_id: id } });
      return toBlockView((await blocksRepository.findById(trx, id))!);
    });
  }

  async unblock(username: string, reason: string, actor: Actor): Promise<BlockView> {
    return this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      if (user.block_id === null) throw appError('not_blocked', `user ${username} is not blocked`);
      const id = Number(user.block_id);
      await this.unblockInTransaction(trx, user, reason);
      await writeAudit(trx, this.deps.clock, actor, { action: 'user.unblock', targetType: 'user', targetId: user.id, details: { block_id: id } });
      return toBlockView((await blocksRepository.findById(trx, id))!);
    });
  }

  /** Block history, newest first; every block with its completion (the unblock). */
  async history(options: { username?: string; cursor?: string; limit?: number }): Promise<Page<BlockView>> {
    const userId = options.username ? (await this.deps.directory.find(this.deps.db, options.username)).id : undefined;
    return historyPage(options, (beforeId, limit) => blocksRepository.list(this.deps.db, { userId, beforeId, limit }), toBlockView);
  }
}
