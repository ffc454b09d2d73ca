import { randomBytes, randomUUID } from 'node:crypto';

/** Random identifier for rows that are referenced from outside (users, groups). */
export const newId = (): string => randomUUID();

/** Short random identifier in lower-case hex, for the public part of keys. */
export const shortId = (bytes = 8): string => randomBytes(bytes).toString('hex');

let lastMillis = 0;
let sequence = 0;

/**
 * Identifier that sorts in creation order within this process (milliseconds,
 * then a sequence within the millisecond) followed by random bits: for logs
 * listed newest first, where two entries of the same millisecond must still
 * come out in the order they were written.
 */
export function orderedId(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    sequence = 0;
  } else {
    sequence += 1;
  }
  return `${lastMillis.toString(16).padStart(12, '0')}${sequence.toString(16).padStart(6, '0')}${randomBytes(8).toString('hex')}`;
}
