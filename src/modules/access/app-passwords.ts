import { randomInt } from 'node:crypto';
import { assertMayManageMethods } from '../admin-access/targets.js';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { appPasswordsRepository } from '../../storage/repositories/app-passwords.js';
import type { UserRow } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import { iso } from '../auth/record-helpers.js';
import type { Directory } from '../directory/directory.js';
import { cleanName } from '../../shared/names.js';

export interface AppPasswordView {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const LENGTH = 16;
const MAX_PER_USER = 40;

/** 16 random lower-case letters (75 bits): typed into mail clients and other legacy clients. */
const newPassword = (): string => Array.from({ length: LENGTH }, () => LETTERS[randomInt(LETTERS.length)]).join('');

/** Accepts the password as shown, or with spaces or dashes typed between groups. */
const normalise = (password: string): string => password.replace(/[\s-]/g, '').toLowerCase();


/**
 * App passwords (SPEC.md §3 "skipped due to app password"): per-user
 * passwords for legacy clients that cannot show a second factor. Shown once
 * when created, kept as keyed hashes; an administrator lists and revokes them.
 */
export class AppPasswords {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock; keyring: Keyring; directory: Directory }) {}

  async create(username: string, name: unknown, actor: Actor): Promise<AppPasswordView & { password: string }> {
    const now = this.deps.clock.now();
    const clean = cleanName(name);
    const password = newPassword();
    const id = newId();
    await this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      if ((await appPasswordsRepository.countForUser(trx, user.id)) >= MAX_PER_USER) throw appError('conflict', `user ${user.username} has ${MAX_PER_USER} app passwords already: revoke one first`);
      await appPasswordsRepository.insert(trx, { id, user_id: user.id, name: clean, secret_hash: this.deps.keyring.keyedHash('app-password', password), created_at: now, last_used_at: null });
      await writeAudit(trx, this.deps.clock, actor, { action: 'app_password.create', targetType: 'user', targetId: user.id, details: { app_password_id: id, name: clean } });
    });
    return { id, name: clean, created_at: iso(now)!, last_used_at: null, password };
  }

  async list(username: string): Promise<AppPasswordView[]> {
    const user = await this.deps.directory.find(this.deps.db, username);
    const rows = await appPasswordsRepository.listForUser(this.deps.db, user.id);
    return rows.map((row) => ({ id: row.id, name: row.name, created_at: iso(row.created_at)!, last_used_at: iso(row.last_used_at) }));
  }

  async revoke(username: string, id: string, actor: Actor): Promise<void> {
    await this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      assertMayManageMethods(actor, user);
      if (!(await appPasswordsRepository.deleteOfUser(trx, user.id, id))) throw appError('app_password_not_found', `user ${user.username} has no app password ${id}`);
      await writeAudit(trx, this.deps.clock, actor, { action: 'app_password.revoke', targetType: 'user', targetId: user.id, details: { app_password_id: id } });
    });
  }
}

/** Whether `password` is one of the user's app passwords; a match is marked used. Runs inside the authentication's transaction. */
export async function useAppPassword(db: Executor, keyring: Keyring, user: UserRow, password: string, now: number): Promise<string | null> {
  const row = await appPasswordsRepository.findByHash(db, user.id, keyring.keyedHash('app-password', normalise(password)));
  if (!row) return null;
  await appPasswordsRepository.markUsed(db, row.id, now);
  return row.name;
}
