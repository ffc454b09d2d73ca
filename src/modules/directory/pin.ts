import type { Keyring } from '../../shared/keyring.js';

/**
 * PIN storage. A PIN has 4 to 16 digits: at most 10^16 values and usually
 * 10^4 to 10^6, so a slow password hash would not stop an offline guesser who
 * stole the database, while it would cost every PIN-mode authentication
 * tens of milliseconds. Instead the PIN is hashed with HMAC-SHA256 under a key
 * derived from the master key, which never lives in the database: a stolen
 * database alone gives nothing to guess against, and a check costs about a
 * microsecond. The user id is part of the input so equal PINs do not show.
 * Online guessing is bounded by throttling, not by hash cost.
 */
export function hashPin(keyring: Keyring, userId: string, pin: string): string {
  return keyring.keyedHash('pin', `${userId}:${pin}`);
}

export function verifyPin(keyring: Keyring, userId: string, pin: string, stored: string): boolean {
  return keyring.verifyKeyedHash('pin', `${userId}:${pin}`, stored);
}

export function pinProblem(pin: string, minLength: number, maxLength: number): string | null {
  if (!/^[0-9]+$/.test(pin)) return 'PIN must contain digits only';
  if (pin.length < minLength || pin.length > maxLength) return `PIN must have ${minLength} to ${maxLength} digits`;
  return null;
}
