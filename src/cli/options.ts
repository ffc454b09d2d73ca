import { appError } from '../shared/errors.js';

/** The reason an administrator gives with --reason: recorded with a block, unblock, bypass or device block. */
export function reasonOf(reason: string | undefined): string {
  if (reason === undefined) throw appError('validation_failed', '--reason is required: say why (it is recorded)');
  const trimmed = reason.trim();
  if (trimmed.length < 1 || trimmed.length > 500) throw appError('validation_failed', '--reason: must be 1 to 500 characters', { field: 'reason' });
  return trimmed;
}
