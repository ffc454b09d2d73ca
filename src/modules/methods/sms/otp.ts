import { randomBytes, randomInt } from 'node:crypto';
import type { Keyring } from '../../../shared/keyring.js';

/** A fresh one-time code of `length` digits, from the system's secure random source. */
export const newOtp = (length: number): string => String(randomInt(10 ** length)).padStart(length, '0');

/**
 * What a pending SMS challenge keeps of its code: a keyed hash with a salt of
 * its own. The key is derived from the master key and never stored, so the
 * saved challenge state gives an attacker holding the database nothing to try
 * the million codes against; the salt keeps two equal codes from showing.
 */
export function sealOtp(keyring: Keyring, otp: string): { otp_salt: string; otp_hash: string } {
  const salt = randomBytes(16).toString('base64url');
  return { otp_salt: salt, otp_hash: keyring.keyedHash('otp', `${salt}:${otp}`) };
}

export function otpMatches(keyring: Keyring, otp: string, sealed: { otp_salt: string; otp_hash: string }): boolean {
  return keyring.verifyKeyedHash('otp', `${sealed.otp_salt}:${otp}`, sealed.otp_hash);
}
