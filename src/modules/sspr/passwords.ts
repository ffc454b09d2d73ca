import { hash, verify } from '@node-rs/argon2';
import { newId } from '../../shared/ids.js';

/**
 * Passwords of the local directory (SPEC.md §6): argon2id with the library's
 * defaults (19 MiB, 2 passes, a random salt per hash). A password is the one
 * secret a person chooses and reuses, so a slow, salted hash is what protects
 * it if the database leaks.
 */
export const hashPassword = (password: string): Promise<string> => hash(password.normalize('NFC'));

let placeholder: Promise<string> | undefined;

/**
 * Checks a password against a stored hash. Without one (no such user, no
 * password set) it still spends one hash on a placeholder, so the answer's
 * time does not tell whether the account exists.
 */
export async function verifyPassword(stored: string | null, given: string): Promise<boolean> {
  placeholder ??= hash(`placeholder ${newId()}`);
  const right = await verify(stored ?? (await placeholder), given.normalize('NFC')).catch(() => false);
  return stored !== null && right;
}

/** Why a new password is refused, or null: length, control characters, the username itself. */
export function passwordProblem(password: string, username: string, minLength: number): string | null {
  if (password.length < minLength) return `password: at least ${minLength} characters`;
  if (password.length > 256) return 'password: at most 256 characters';
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'password: no control characters';
  if (password.trim().toLowerCase() === username.trim().toLowerCase()) return 'password: must not be the username';
  return null;
}
