import type { Actor } from '../../shared/actor.js';
import { assert } from '../../shared/errors.js';
import type { Executor } from '../../storage/database.js';
import { usersRepository } from '../../storage/repositories/users.js';
import { ROLES, type Role } from './roles.js';

/**
 * What an administrator may do to a user who holds an administrator role
 * (SPEC.md §6, as the well-known directory has it). A Global Administrator or
 * a Privileged Authentication Administrator may do anything an admin route
 * lets their role do. An Authentication Administrator may only take such a
 * user's access away (block the user, block a device, forget remembered
 * devices), never change what authenticates them: methods, PIN, MFA state,
 * bypasses, app passwords, security answers, password, name. Otherwise one
 * could take over a more privileged account by enrolling a token of their own
 * and resetting its password with it. The CLI (no role: the server's
 * operator) may do anything.
 *
 * The HTTP layer applies this rule to every admin write that names a user
 * (`protocols/http/admin-auth.ts`), so a new route is covered without
 * declaring anything; modules apply it again where they find a user's row by
 * another id (a token by serial).
 */
export const ALLOWED_ON_ADMINISTRATORS: ReadonlySet<string> = new Set(['POST /users/:username/block', 'POST /users/:username/devices/:id/block', 'POST /users/:username/remembered-devices/revoke']);

/** Whether `actor` may do `operation` ("METHOD /route/pattern", without /admin/v1) to `user`. */
export function mayChangeUser(actor: Pick<Actor, 'role'>, user: { admin_role: string | null }, operation: string): boolean {
  return actor.role !== 'authentication_administrator' || user.admin_role === null || ALLOWED_ON_ADMINISTRATORS.has(operation);
}

/** Refuses, with the reason, an operation `mayChangeUser` does not allow. */
export function assertMayChangeUser(actor: Pick<Actor, 'role'>, user: { username: string; admin_role: string | null }, operation: string): void {
  if (mayChangeUser(actor, user, operation)) return;
  const held = ROLES[user.admin_role as Role] ?? user.admin_role;
  assert(false, 'forbidden', `an Authentication Administrator may not change ${user.username}, who holds the ${held} role, other than to block them`);
}

/** The rule for changes to a user's methods (their phones, tokens, devices, answers, app passwords, password). */
export function assertMayManageMethods(actor: Actor, user: { username: string; admin_role: string | null }): void {
  assertMayChangeUser(actor, user, 'change methods');
}

/** Only a Global Administrator (or the CLI) assigns administrator roles to users. */
export function assertMayAssignRoles(actor: Actor): void {
  assert(actor.role === null || actor.role === 'global_administrator', 'forbidden', 'admin_role: only a Global Administrator assigns administrator roles');
}

/** `assertMayManageMethods` for the owner of a row found by user id (a token, a device). */
export async function assertMayManageMethodsOf(db: Executor, actor: Actor, userId: string | null): Promise<void> {
  if (actor.role !== 'authentication_administrator' || userId === null) return;
  const user = await usersRepository.findById(db, userId);
  if (user) assertMayManageMethods(actor, user);
}
