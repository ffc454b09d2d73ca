import type { RadiusAttribute } from './codec.js';
import { ATTRIBUTES } from './dictionary.js';
import { md5 } from './authenticators.js';
import { RadiusError, refuseUnless } from './errors.js';
import { utf8Text } from './values.js';

/**
 * User-Password hiding (RFC 2865 §5.2). The password is padded with NULs to
 * a multiple of 16 octets (at most 128) and each 16-octet block p(i) is sent
 * as c(i) = p(i) xor b(i), where b(1) = MD5(secret + Request Authenticator)
 * and b(i) = MD5(secret + c(i-1)).
 */
const BLOCK = 16;
const MAX_PASSWORD_OCTETS = 128;

export function hidePassword(password: string, requestAuthenticator: Buffer, secret: Buffer): RadiusAttribute {
  const plain = Buffer.from(password, 'utf8');
  if (plain.length > MAX_PASSWORD_OCTETS) {
    throw new RadiusError('attribute_too_long', `a User-Password of ${plain.length} octets is longer than ${MAX_PASSWORD_OCTETS}`, { attribute: 'User-Password' });
  }
  const padded = Buffer.alloc(Math.max(BLOCK, Math.ceil(plain.length / BLOCK) * BLOCK));
  plain.copy(padded);
  const hidden = Buffer.alloc(padded.length);
  let chain = requestAuthenticator;
  for (let at = 0; at < padded.length; at += BLOCK) {
    const pad = md5(secret, chain);
    for (let i = 0; i < BLOCK; i += 1) hidden[at + i] = padded[at + i]! ^ pad[i]!;
    chain = hidden.subarray(at, at + BLOCK);
  }
  return { type: ATTRIBUTES['User-Password'].type, value: hidden };
}

/**
 * The password back from a User-Password value. Trailing NULs are the
 * padding; what is left must be UTF-8 (a wrong secret almost always gives
 * octets that are not, but it is the authenticator that proves the secret).
 */
export function recoverPassword(hidden: Buffer, requestAuthenticator: Buffer, secret: Buffer): string {
  refuseUnless(hidden.length >= BLOCK && hidden.length <= MAX_PASSWORD_OCTETS && hidden.length % BLOCK === 0, 'bad_attribute_value', `a User-Password of ${hidden.length} octets`, {
    attribute: 'User-Password',
  });
  const plain = Buffer.alloc(hidden.length);
  let chain = requestAuthenticator;
  for (let at = 0; at < hidden.length; at += BLOCK) {
    const pad = md5(secret, chain);
    for (let i = 0; i < BLOCK; i += 1) plain[at + i] = hidden[at + i]! ^ pad[i]!;
    chain = hidden.subarray(at, at + BLOCK);
  }
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end -= 1;
  const text = utf8Text(plain.subarray(0, end));
  refuseUnless(text !== null, 'bad_user_password', 'the User-Password does not recover to UTF-8 text', { attribute: 'User-Password' });
  return text;
}
