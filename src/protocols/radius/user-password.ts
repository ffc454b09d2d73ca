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

/** Each block xor b(i), both ways: b(i) chains on the hidden block c(i-1), the output when hiding and the input when recovering. */
function xorBlocks(input: Buffer, requestAuthenticator: Buffer, secret: Buffer, direction: 'hide' | 'recover'): Buffer {
  const output = Buffer.alloc(input.length);
  let chain = requestAuthenticator;
  for (let at = 0; at < input.length; at += BLOCK) {
    const pad = md5(secret, chain);
    for (let i = 0; i < BLOCK; i += 1) output[at + i] = input[at + i]! ^ pad[i]!;
    chain = (direction === 'hide' ? output : input).subarray(at, at + BLOCK);
  }
  return output;
}

export function hidePassword(password: string, requestAuthenticator: Buffer, secret: Buffer): RadiusAttribute {
  const plain = Buffer.from(password, 'utf8');
  if (plain.length > MAX_PASSWORD_OCTETS) {
    throw new RadiusError('attribute_too_long', `a User-Password of ${plain.length} octets is longer than ${MAX_PASSWORD_OCTETS}`, { attribute: 'User-Password' });
  }
  const padded = Buffer.alloc(Math.max(BLOCK, Math.ceil(plain.length / BLOCK) * BLOCK));
  plain.copy(padded);
  return { type: ATTRIBUTES['User-Password'].type, value: xorBlocks(padded, requestAuthenticator, secret, 'hide') };
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
  const plain = xorBlocks(hidden, requestAuthenticator, secret, 'recover');
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end -= 1;
  const text = utf8Text(plain.subarray(0, end));
  refuseUnless(text !== null, 'bad_user_password', 'the User-Password does not recover to UTF-8 text', { attribute: 'User-Password' });
  return text;
}
