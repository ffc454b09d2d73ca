import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Executor } from '../../storage/database.js';
import { logKeysRepository } from '../../storage/repositories/log-keys.js';

export const DAY_MS = 86_400_000;
const PREFIX = 'p1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals the personal fields of one service-log line (see `PersonalLog`). */
export type LogSealer = (personal: Record<string, unknown>) => string;

/** What a service-log line of a user looks like once its personal fields are opened. */
export type OpenedFields = Record<string, unknown> | null;

const dayOf = (millis: number) => Math.floor(millis / DAY_MS);
const keyContext = (userId: string, day: number) => `log_key:${userId}:${day}`;
const lineContext = (userId: string, day: number) => `log_line:${userId}:${day}`;

/**
 * Crypto-shredding of the service log (docs/privacy.md). A line about a user
 * carries the user's random id in clear, and the personal fields (the
 * username, anything else that names the person) sealed with AES-256-GCM
 * under a key of that user and UTC day, kept sealed in `log_keys`. Reading
 * the line needs the key; the privacy delete and the retention purge destroy
 * keys, which leaves every copy of the line (log files, rotated files, a
 * syslog server) unreadable without rewriting any of them.
 */
export class PersonalLog {
  constructor(private readonly deps: { keyring: Keyring; clock: Clock }) {}

  /**
   * The sealer for a line about `userId`, made inside the transaction of the
   * change it reports: the day's key is created with that change, or not at all.
   */
  async sealer(db: Executor, userId: string): Promise<LogSealer> {
    const day = dayOf(this.deps.clock.now());
    let sealed = await logKeysRepository.find(db, userId, day);
    if (sealed === null) {
      sealed = this.deps.keyring.seal(randomBytes(32), keyContext(userId, day));
      // Two changes of one user at once: the second insert yields to the first, and both use the stored key.
      await logKeysRepository.insertIfAbsent(db, [{ user_id: userId, day, key_sealed: sealed }]);
      sealed = (await logKeysRepository.find(db, userId, day)) ?? sealed;
    }
    return sealerWith(this.deps.keyring.open(sealed, keyContext(userId, day)), userId, day);
  }

  /**
   * Sealers for users created in this transaction (an import): their keys of
   * the day are written in one statement. Should one exist already, that user
   * gets the stored key like `sealer` would give it.
   */
  async sealersForNew(db: Executor, userIds: string[]): Promise<Map<string, LogSealer>> {
    const day = dayOf(this.deps.clock.now());
    const keys = userIds.map((userId) => ({ userId, key: randomBytes(32) }));
    const sealers = new Map<string, LogSealer>();
    if (keys.length === 0) return sealers;
    const rows = keys.map(({ userId, key }) => ({ user_id: userId, day, key_sealed: this.deps.keyring.seal(key, keyContext(userId, day)) }));
    if ((await logKeysRepository.insertIfAbsent(db, rows)) !== keys.length) {
      for (const { userId } of keys) sealers.set(userId, await this.sealer(db, userId));
      return sealers;
    }
    for (const { userId, key } of keys) sealers.set(userId, sealerWith(key, userId, day));
    return sealers;
  }

  /** An opener for many lines (a log search, an export): keys are read once per user and day. */
  opener(db: Executor): (userId: string, sealed: string) => Promise<OpenedFields> {
    const keys = new Map<string, Buffer | null>();
    return async (userId, sealed) => {
      const parsed = parseSealed(sealed);
      if (!parsed) return null;
      const cacheKey = `${userId}:${parsed.day}`;
      if (!keys.has(cacheKey)) {
        const stored = await logKeysRepository.find(db, userId, parsed.day);
        keys.set(cacheKey, stored === null ? null : this.deps.keyring.open(stored, keyContext(userId, parsed.day)));
      }
      const key = keys.get(cacheKey);
      return key ? openWith(key, userId, parsed.day, parsed.raw) : null;
    };
  }
}

function sealerWith(key: Buffer, userId: string, day: number): LogSealer {
  return (personal) => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(lineContext(userId, day), 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(personal), 'utf8'), cipher.final()]);
    return `${PREFIX}${day}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
  };
}

function parseSealed(sealed: string): { day: number; raw: Buffer } | null {
  const match = /^p1\.(\d{1,7})\.([A-Za-z0-9_-]+)$/.exec(sealed);
  if (!match) return null;
  const raw = Buffer.from(match[2]!, 'base64url');
  return raw.length < IV_BYTES + TAG_BYTES ? null : { day: Number(match[1]), raw };
}

function openWith(key: Buffer, userId: string, day: number, raw: Buffer): OpenedFields {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(lineContext(userId, day), 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    // Altered, or sealed for another user or day: as unreadable as a destroyed key.
    return null;
  }
}

/**
 * The service-log lines of added and changed users (SPEC.md §6). The
 * username goes sealed (`PersonalLog`); the user id, the event, the names of
 * the changed fields and the actor stay readable. `log.userChanges` off writes
 * no line and makes no key.
 */
export class UserChangeLog {
  constructor(private readonly deps: { log: Logger; personal: PersonalLog; enabled: boolean }) {}

  /**
   * Called inside the change's transaction; the returned function writes the
   * line and is called after the commit, so the log never reports a change
   * that rolled back.
   */
  async prepare(db: Executor, user: { id: string; username: string }, event: string, message: string, details: Record<string, unknown>): Promise<() => void> {
    if (!this.deps.enabled) return () => undefined;
    const seal = await this.deps.personal.sealer(db, user.id);
    return () => this.deps.log.info({ event, user_id: user.id, ...details, personal: seal({ username: user.username }) }, message);
  }

  /** `prepare` for many users created in one transaction (an import), one line each. */
  async prepareCreated(db: Executor, users: { user: { id: string; username: string }; details: Record<string, unknown> }[], event: string, message: string): Promise<() => void> {
    if (!this.deps.enabled || users.length === 0) return () => undefined;
    const sealers = await this.deps.personal.sealersForNew(db, users.map((item) => item.user.id));
    return () => {
      for (const { user, details } of users) this.deps.log.info({ event, user_id: user.id, ...details, personal: sealers.get(user.id)!({ username: user.username }) }, message);
    };
  }
}
