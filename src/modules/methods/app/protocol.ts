import { createHash, createPublicKey, createPrivateKey, generateKeyPairSync, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * The signed requests between an authenticator app and the server
 * (docs/authenticator-protocol.md), shared by the server and the reference
 * authenticator. A device signs every request with its ECDSA P-256 key:
 *
 *     METHOD \n path-and-query \n timestamp \n nonce \n hex(SHA-256(body))
 *
 * signed with SHA-256, the signature in IEEE P1363 form (r ‖ s, 64 bytes),
 * base64url, sent in four headers.
 */
export const DEVICE_HEADER = 'x-countersign-device';
export const TIMESTAMP_HEADER = 'x-countersign-timestamp';
export const NONCE_HEADER = 'x-countersign-nonce';
export const SIGNATURE_HEADER = 'x-countersign-signature';

/** How far a request's timestamp may be from the server's clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface SignedParts {
  method: string;
  /** The path and query exactly as sent (`/app/v1/challenges?wait=25`). */
  path: string;
  /** Milliseconds since the epoch, as a decimal string. */
  timestamp: string;
  /** 16 to 64 characters of [A-Za-z0-9_-], never reused by the device. */
  nonce: string;
  body: string;
}

export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export function stringToSign(parts: SignedParts): string {
  return [parts.method.toUpperCase(), parts.path, parts.timestamp, parts.nonce, createHash('sha256').update(parts.body, 'utf8').digest('hex')].join('\n');
}

/** A new device key pair: the private key as PKCS#8 PEM (kept by the device), the public key as a JWK (sent at activation). */
export function generateDeviceKey(): { privateKeyPem: string; publicJwk: JsonWebKey } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicJwk: publicKey.export({ format: 'jwk' }) };
}

export function signParts(privateKeyPem: string, parts: SignedParts): string {
  return sign('sha256', Buffer.from(stringToSign(parts), 'utf8'), { key: createPrivateKey(privateKeyPem), dsaEncoding: 'ieee-p1363' }).toString('base64url');
}

/**
 * A device public key from its JWK: only EC P-256 public keys (no private
 * part) are accepted. Null for anything else.
 */
export function publicKeyOf(jwk: unknown): KeyObject | null {
  if (typeof jwk !== 'object' || jwk === null) return null;
  const { kty, crv, x, y, d } = jwk as Record<string, unknown>;
  if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string' || d !== undefined) return null;
  if (!/^[A-Za-z0-9_-]{43}$/.test(x) || !/^[A-Za-z0-9_-]{43}$/.test(y)) return null;
  try {
    return createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' });
  } catch {
    return null; // not a point on the curve
  }
}

export function verifyParts(publicKey: KeyObject, parts: SignedParts, signature: string): boolean {
  if (!/^[A-Za-z0-9_-]{86}$/.test(signature)) return false;
  return verify('sha256', Buffer.from(stringToSign(parts), 'utf8'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
}
