import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AUTHENTICATOR_LENGTH, HEADER_LENGTH } from './codec.js';
import { refuseUnless } from './errors.js';

/**
 * The MD5 constructions RADIUS authenticates with. They are weak (RFC 2865
 * §8; BlastRADIUS forges replies through an MD5 collision) but they are the
 * protocol: the defence is the HMAC of Message-Authenticator, required on
 * requests and first in replies (messages.ts).
 */

/** A client's shared secret, as configured (text is taken as UTF-8). */
export type Secret = string | Buffer;

/** RFC 2865 §3 requires a secret; an empty one would make every authenticator public knowledge. */
export function secretOctets(secret: Secret): Buffer {
  const octets = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  refuseUnless(octets.length > 0, 'empty_secret', 'the shared secret is empty');
  return octets;
}

export function md5(...parts: Buffer[]): Buffer {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/**
 * RFC 2865 §3, Response Authenticator: MD5(Code + Identifier + Length +
 * Request Authenticator + Attributes + Secret), over a reply's `bytes`
 * whatever its authenticator field holds.
 */
export function responseAuthenticator(bytes: Buffer, requestAuthenticator: Buffer, secret: Buffer): Buffer {
  return md5(bytes.subarray(0, 4), requestAuthenticator, bytes.subarray(HEADER_LENGTH), secret);
}

/** RFC 2866 §3 (and RFC 5176 alike): the Request Authenticator of an Accounting-Request, computed over 16 zero octets. */
export function accountingRequestAuthenticator(bytes: Buffer, secret: Buffer): Buffer {
  return responseAuthenticator(bytes, Buffer.alloc(AUTHENTICATOR_LENGTH), secret);
}

/**
 * RFC 3579 §3.2 (RFC 2869 §5.14): HMAC-MD5 keyed with the secret over the
 * whole packet, with the Message-Authenticator value as 16 zero octets and the
 * authenticator field holding `authenticatorField`: the packet's own Request
 * Authenticator for an Access-Request or Status-Server, the request's for a
 * reply, zeros for an Accounting-Request.
 */
export function messageAuthenticator(bytes: Buffer, authenticatorField: Buffer, attributeOffset: number, secret: Buffer): Buffer {
  const blanked = Buffer.from(bytes);
  authenticatorField.copy(blanked, 4);
  blanked.fill(0, attributeOffset + 2, attributeOffset + 2 + AUTHENTICATOR_LENGTH);
  return createHmac('md5', secret).update(blanked).digest();
}

/** Compares two digests in constant time: a timing difference would let a forger learn an authenticator octet by octet. */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
