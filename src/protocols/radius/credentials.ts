import { first, has } from './attributes.js';
import { md5, sameDigest, secretOctets, type Secret } from './authenticators.js';
import type { RadiusAttribute, RadiusPacket } from './codec.js';
import { ATTRIBUTES } from './dictionary.js';
import { RadiusError, refuseUnless } from './errors.js';
import { recoverPassword } from './user-password.js';
import { microsoftValue } from './vendor.js';

/**
 * What an Access-Request offers as its first factor, so the flows can route
 * it: PAP carries the password (and maybe an appended code), CHAP and
 * MS-CHAP only a response to a challenge, so they can only go with
 * out-of-band methods (SPEC.md §7.1), and EAP is not spoken at all.
 */
export type Credentials =
  | { readonly kind: 'pap'; readonly password: string }
  | ChapCredentials
  | { readonly kind: 'mschap'; readonly ident: number; readonly challenge: Buffer; readonly lmResponse: Buffer; readonly ntResponse: Buffer; readonly flags: number }
  | {
      readonly kind: 'mschapv2';
      readonly ident: number;
      readonly authenticatorChallenge: Buffer;
      readonly peerChallenge: Buffer;
      readonly ntResponse: Buffer;
      readonly flags: number;
    }
  | { readonly kind: 'eap' }
  | { readonly kind: 'none' };

export interface ChapCredentials {
  readonly kind: 'chap';
  readonly ident: number;
  readonly response: Buffer;
  readonly challenge: Buffer;
}

export type CredentialKind = Credentials['kind'];

/**
 * The credentials of an Access-Request. More than one kind in one request
 * is refused: RFC 2865 §5.2 and §5.3 give a request one or the other, and a
 * server that picked one would let a NAS and the server disagree about what
 * was checked.
 */
export function credentialsOf(request: Pick<RadiusPacket, 'attributes' | 'authenticator'>, secret: Secret): Credentials {
  const msChap1 = microsoftValue(request.attributes, 'MS-CHAP-Response');
  const msChap2 = microsoftValue(request.attributes, 'MS-CHAP2-Response');
  const offered = [has(request, 'User-Password'), has(request, 'CHAP-Password'), msChap1 !== undefined, msChap2 !== undefined, has(request, 'EAP-Message')];
  refuseUnless(offered.filter(Boolean).length <= 1, 'conflicting_credentials', 'the request offers more than one kind of credential');
  const hidden = first(request, 'User-Password');
  if (hidden) return { kind: 'pap', password: recoverPassword(hidden, request.authenticator, secretOctets(secret)) };
  const chap = first(request, 'CHAP-Password');
  if (chap) return { kind: 'chap', ident: chap[0]!, response: chap.subarray(1), challenge: first(request, 'CHAP-Challenge') ?? request.authenticator };
  if (msChap2) return msChapV2(request.attributes, msChap2);
  if (msChap1) return msChapV1(request.attributes, msChap1);
  if (has(request, 'EAP-Message')) return { kind: 'eap' };
  return { kind: 'none' };
}

function msChallenge(attributes: readonly RadiusAttribute[], octets: number, version: string): Buffer {
  const challenge = microsoftValue(attributes, 'MS-CHAP-Challenge');
  if (!challenge) throw new RadiusError('missing_attribute', `an ${version} response without MS-CHAP-Challenge`, { attribute: 'MS-CHAP-Challenge' });
  refuseUnless(challenge.length === octets, 'bad_vendor_attribute', `an ${version} MS-CHAP-Challenge of ${challenge.length} octets, not ${octets}`, { attribute: 'MS-CHAP-Challenge' });
  return challenge;
}

/** RFC 2548 MS-CHAP2-Response: Ident, Flags, Peer-Challenge (16), Reserved (8), NT-Response (24); the challenge is 16 octets. */
function msChapV2(attributes: readonly RadiusAttribute[], response: Buffer): Credentials {
  return {
    kind: 'mschapv2',
    ident: response[0]!,
    flags: response[1]!,
    authenticatorChallenge: msChallenge(attributes, 16, 'MS-CHAP v2'),
    peerChallenge: response.subarray(2, 18),
    ntResponse: response.subarray(26, 50),
  };
}

/** RFC 2548 MS-CHAP-Response: Ident, Flags, LM-Response (24), NT-Response (24); the challenge is 8 octets. */
function msChapV1(attributes: readonly RadiusAttribute[], response: Buffer): Credentials {
  return {
    kind: 'mschap',
    ident: response[0]!,
    flags: response[1]!,
    challenge: msChallenge(attributes, 8, 'MS-CHAP v1'),
    lmResponse: response.subarray(2, 26),
    ntResponse: response.subarray(26, 50),
  };
}

/** RFC 1994 §4.1 as RFC 2865 §2.2 uses it: the response is MD5(Ident + secret + challenge). */
export function chapResponse(ident: number, password: string, challenge: Buffer): Buffer {
  return md5(Buffer.of(ident & 0xff), Buffer.from(password, 'utf8'), challenge);
}

/** Whether a CHAP response was made with this password. Only usable where the password is known in clear. */
export function verifyChap(credentials: ChapCredentials, password: string): boolean {
  return sameDigest(chapResponse(credentials.ident, password, credentials.challenge), credentials.response);
}

/** A CHAP-Password attribute (Ident + response), as a client writes it. */
export function chapPasswordAttribute(ident: number, password: string, challenge: Buffer): RadiusAttribute {
  return { type: ATTRIBUTES['CHAP-Password'].type, value: Buffer.concat([Buffer.of(ident & 0xff), chapResponse(ident, password, challenge)]) };
}
