import { randomBytes } from 'node:crypto';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import type { Keyring } from '../../shared/keyring.js';
import type { UnitOfWork } from '../../storage/database.js';
import { usersRepository } from '../../storage/repositories/users.js';
import { writeAudit } from '../audit/audit.js';
import type { Directory } from '../directory/directory.js';

const PREFIX = 'rd1.';
const DAY_MS = 86_400_000;

/** What a remembered-device token says, once its signature is checked. */
export interface RememberedDevice {
  userId: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * A remembered-device token (SPEC.md §3 "skipped due to remembered
 * device"): issued after a successful MFA when the application asks and the
 * policy allows, kept by the application on the user's device (a cookie),
 * and sent with later sign-ins. It is signed with a key of the server's
 * keyring, names the user, and expires; the server keeps nothing per token,
 * so revoking is by time (users.remembered_devices_revoked_at).
 */
export function issueRememberToken(keyring: Keyring, userId: string, now: number, days: number): { token: string; body: string; expiresAt: number } {
  const expiresAt = now + days * DAY_MS;
  const body = Buffer.from(JSON.stringify({ u: userId, i: now, e: expiresAt, n: randomBytes(8).toString('base64url') })).toString('base64url');
  return { token: tokenOf(keyring, body), body, expiresAt };
}

const tokenOf = (keyring: Keyring, body: string): string => `${PREFIX}${body}.${keyring.keyedHash('remembered-device', body)}`;

/** The token and its expiry again from its signed part (kept with the challenge, so that auth_status can answer with it). */
export function rememberTokenOf(keyring: Keyring, body: string): { remember_token: string; remember_expires_at: string } {
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { e: number };
  return { remember_token: tokenOf(keyring, body), remember_expires_at: new Date(payload.e).toISOString() };
}

/** The token's content when its signature holds; null for anything else (altered, made up, malformed). */
export function readRememberToken(keyring: Keyring, token: string): RememberedDevice | null {
  if (!token.startsWith(PREFIX)) return null;
  const [body, mac, extra] = token.slice(PREFIX.length).split('.');
  if (!body || !mac || extra !== undefined || !keyring.verifyKeyedHash('remembered-device', body, mac)) return null;
  try {
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { u?: unknown; i?: unknown; e?: unknown };
    if (typeof payload.u !== 'string' || typeof payload.i !== 'number' || typeof payload.e !== 'number') return null;
    return { userId: payload.u, issuedAt: payload.i, expiresAt: payload.e };
  } catch {
    return null;
  }
}

export const daysToMs = (days: number): number => days * DAY_MS;

/** Stops honouring every remembered-device token of the user issued until now; returns that moment. */
export async function revokeRememberedDevices(deps: { transact: UnitOfWork; clock: Clock; directory: Directory }, username: string, actor: Actor): Promise<string> {
  const now = deps.clock.now();
  await deps.transact(async (trx) => {
    const user = await deps.directory.lock(trx, username);
    await usersRepository.update(trx, user.id, { remembered_devices_revoked_at: now });
    await writeAudit(trx, deps.clock, actor, { action: 'user.remembered_devices_revoke', targetType: 'user', targetId: user.id });
  });
  return new Date(now).toISOString();
}
