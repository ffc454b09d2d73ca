import type { Executor } from '../../storage/database.js';
import { challengesRepository } from '../../storage/repositories/challenges.js';
import { usersRepository } from '../../storage/repositories/users.js';
import { readState } from './challenge-state.js';

/** A push as a device sees it while it waits for an answer. */
export interface PendingPush {
  txid: string;
  application: string;
  ip: string | null;
  created_at: string;
  expires_at: string;
  /** Where the sign-in comes from, when known; no location source is configured yet, so null. */
  location: string | null;
  /** The user must type the number the sign-in screen shows. */
  number_matching: boolean;
  /** PIN mode: the answer carries the user's PIN. */
  pin: boolean;
  /** The PIN has expired: the answer also carries a new one. */
  pin_change: boolean;
}

/**
 * The pushes waiting for an authenticator app's device: the user's open
 * challenges of the method that pushes to devices, sent to this device,
 * oldest first. Never the matching number: the user reads it on the sign-in
 * screen.
 */
export async function pendingPushes(db: Executor, method: string, device: { id: string; user_id: string }, now: number): Promise<PendingPush[]> {
  const rows = await challengesRepository.openOfUserByMethod(db, device.user_id, method, now);
  if (rows.length === 0) return [];
  const user = await usersRepository.findById(db, device.user_id);
  return rows.flatMap((row) => {
    const state = readState(row);
    const { devices } = state.step as { devices?: string[] };
    if (!devices?.includes(device.id)) return [];
    return [
      {
        txid: row.id,
        application: row.application,
        ip: row.ip,
        created_at: new Date(Number(row.created_at)).toISOString(),
        expires_at: new Date(Number(row.expires_at)).toISOString(),
        location: null,
        number_matching: state.number !== undefined,
        pin: user?.app_mode === 'pin',
        pin_change: user?.app_mode === 'pin' && Boolean(user.pin_change_required),
      },
    ];
  });
}
