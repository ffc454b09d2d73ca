import type { Actor } from '../../shared/actor.js';
import { assert } from '../../shared/errors.js';
import type { Executor } from '../../storage/database.js';
import { ROLES, type Role } from './roles.js';

/**
 * Whose methods an administrator may remove (SPEC.md §6, as the well-known
 * directory has it): a Privileged Authentication Administrator or a Global
 * Administrator anyone's; an Authentication Administrator only those of users
 * who hold no administrator role, so that one cannot take over a more
 * privileged account by replacing its phone. The CLI (no role: the operator
 * of the server) may do anything.
 */
export function assertMayManageMethods(actor: Actor, user: { username: string; admin_role: string | null }): void {
  if (actor.role !== 'authentication_administrator' || user.admin_role === null) return;
  const held = ROLES[user.admin_role as Role] ?? user.admin_role;
  assert(false, 'forbidden', `an Authentication Administrator may not change the methods of ${user.username}, who holds the ${held} role`);
}

/** Only a Global Administrator (or the CLI) assigns administrator roles to users. */
export function assertMayAssignRoles(actor: Actor): void {
  assert(actor.role === null || actor.role === 'global_administrator', 'forbidden', 'admin_role: only a Global Administrator assigns administrator roles');
}

/** `assertMayManageMethods` for the owner of a row found by user id (a token, a device). */
export async function assertMayManageMethodsOf(db: Executor, actor: Actor, userId: string | null): Promise<void> {
  if (actor.role !== 'authentication_administrator' || userId === null) return;
  const user = await db.selectFrom('users').select(['username', 'admin_role']).where('id', '=', userId).executeTakeFirst();
  if (user) assertMayManageMethods(actor, user);
}
