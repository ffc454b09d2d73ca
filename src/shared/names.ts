import { assert } from './errors.js';

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A name given by an administrator (a group, a named location, a policy, an app password): 1 to 128 printable characters, trimmed. */
export function cleanName(value: unknown, field = 'name'): string {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  assert(trimmed.length >= 1 && trimmed.length <= 128 && !CONTROL.test(trimmed), 'validation_failed', `${field}: must be 1 to 128 printable characters`, { field });
  return trimmed;
}

/** Names compare case-insensitively. */
export const nameKey = (name: string): string => name.trim().toLowerCase();
