import type { Actor } from '../../shared/actor.js';
import type { AppPasswords } from '../access/app-passwords.js';
import type { Directory } from '../directory/directory.js';
import type { AppDevices } from '../methods/app/devices.js';
import type { OathTokens } from '../methods/oath/tokens.js';
import type { SecurityQuestions } from '../methods/questions/questions.js';
import type { SelfService } from '../sspr/sspr.js';

/** What an administrator can remove from a user (SPEC.md §6), as `DELETE /users/{username}/methods/{method}` names it. */
export const REMOVABLE_METHODS = ['phone', 'backup_phone', 'email', 'sspr_email', 'oath_tokens', 'app_devices', 'security_questions', 'app_passwords'] as const;
export type RemovableMethod = (typeof REMOVABLE_METHODS)[number];

export interface MethodRemovalDeps {
  directory: Directory;
  oathTokens: OathTokens;
  appDevices: AppDevices;
  appPasswords: AppPasswords;
  securityQuestions: SecurityQuestions;
  selfService: SelfService;
}

/**
 * Removes one kind of method from a user through the module that owns it, so
 * each removal writes its usual change and audit records. Who may remove what
 * is checked there (`admin-access/targets.ts`): an Authentication
 * Administrator is refused for a user who holds an administrator role.
 * Returns how many were removed.
 */
export async function removeMethod(deps: MethodRemovalDeps, username: string, method: RemovableMethod, actor: Actor): Promise<number> {
  switch (method) {
    case 'phone':
    case 'backup_phone':
    case 'email': {
      const before = await deps.directory.get(username);
      if (before[method] === null) return 0;
      await deps.directory.update(username, { [method]: null }, actor);
      return 1;
    }
    case 'oath_tokens': {
      const tokens = await deps.oathTokens.listForUser(username);
      for (const token of tokens) await deps.oathTokens.delete(username, token.id, actor);
      return tokens.length;
    }
    case 'app_devices': {
      const devices = await deps.appDevices.list(username);
      for (const device of devices) await deps.appDevices.delete(username, device.id, actor);
      return devices.length;
    }
    case 'sspr_email':
      return (await deps.selfService.removeEmailOf(username, actor)) ? 1 : 0;
    case 'security_questions':
      return deps.securityQuestions.clear(username, actor);
    case 'app_passwords': {
      const passwords = await deps.appPasswords.list(username);
      for (const password of passwords) await deps.appPasswords.revoke(username, password.id, actor);
      return passwords.length;
    }
  }
}
