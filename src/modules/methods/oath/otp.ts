import { createHmac } from 'node:crypto';

export type OathAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface OathParameters {
  secret: Buffer;
  algorithm: OathAlgorithm;
  digits: 6 | 8;
}

/**
 * HOTP, RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic
 * truncation at the offset in the low nibble of the last byte, modulo 10^digits.
 */
export function hotp(params: OathParameters, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(params.algorithm.toLowerCase(), params.secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** params.digits;
  return String(binary).padStart(params.digits, '0');
}

/** RFC 6238 §4.2: the time step T = floor((unix time - T0) / X), with T0 = 0. */
export const timeStep = (unixMs: number, periodSeconds: number): number => Math.floor(unixMs / 1000 / periodSeconds);

export function totp(params: OathParameters, unixMs: number, periodSeconds: number): string {
  return hotp(params, timeStep(unixMs, periodSeconds));
}

/** Constant-time comparison of two codes of the same length. */
function sameCode(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index += 1) difference |= a.charCodeAt(index) ^ b.charCodeAt(index);
  return difference === 0;
}

/**
 * The counter in [from, to] whose code matches, or null. Every candidate is
 * computed even after a match so the time taken does not tell which one it was.
 */
export function matchCounter(params: OathParameters, code: string, from: number, to: number): number | null {
  let found: number | null = null;
  for (let counter = Math.max(0, from); counter <= to; counter += 1) {
    if (sameCode(hotp(params, counter), code) && found === null) found = counter;
  }
  return found;
}
