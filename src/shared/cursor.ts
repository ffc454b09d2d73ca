import { appError } from './errors.js';

/** Opaque paging cursor: the sort key of the last item returned. */
export const encodeCursor = (key: string | number): string => Buffer.from(JSON.stringify([key]), 'utf8').toString('base64url');

export function decodeCursor<T extends string | number>(cursor: string, type: 'string' | 'number'): T {
  try {
    const [key] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof key === type) return key as T;
  } catch {
    // fall through to the error below
  }
  throw appError('invalid_cursor', 'cursor is not one this server returned');
}
