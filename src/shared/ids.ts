import { randomBytes, randomUUID } from 'node:crypto';

/** Random identifier for rows that are referenced from outside (users, groups). */
export const newId = (): string => randomUUID();

/** Short random identifier in lower-case hex, for the public part of keys. */
export const shortId = (bytes = 8): string => randomBytes(bytes).toString('hex');
