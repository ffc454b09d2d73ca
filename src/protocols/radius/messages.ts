import { randomBytes } from 'node:crypto';
import { has, proxyStates } from './attributes.js';
import { accountingRequestAuthenticator, messageAuthenticator, responseAuthenticator, sameDigest, secretOctets, type Secret } from './authenticators.js';
import { AUTHENTICATOR_LENGTH, decodePacket, encodePacket, HEADER_LENGTH, offsetOf, type RadiusAttribute, type RadiusPacket } from './codec.js';
import { CODE_NAMES, CODES, isReplyCode, isRequestCode, TYPES, type ReplyCode, type RequestCode } from './dictionary.js';
import { RadiusError, refuseUnless } from './errors.js';
import { hidePassword } from './user-password.js';

/**
 * Requests and replies with their authenticators: what a server reads and
 * answers, and what a client (a proxy to an upstream server, a test) sends
 * and accepts. Nothing here does I/O; a listener gives it datagrams.
 */

export interface VerifyOptions {
  /**
   * Refuse an Access-Request (or a reply) without Message-Authenticator.
   * BlastRADIUS (CVE-2024-3596) forges replies to requests that lack one, so
   * clients require it unless marked legacy. Status-Server and anything
   * carrying EAP-Message always need it (RFC 5997 §3, RFC 3579 §3.2).
   */
  readonly requireMessageAuthenticator: boolean;
}

export interface VerifiedRequest extends RadiusPacket {
  readonly code: RequestCode;
  /** A Message-Authenticator was present and verified. */
  readonly messageAuthenticated: boolean;
}

/** Replies each request code may have (RFC 2865 §4, RFC 2866 §4, RFC 5997 §3: Status-Server is answered as its port's requests are). */
const REPLIES: Record<RequestCode, readonly ReplyCode[]> = {
  [CODES.ACCESS_REQUEST]: [CODES.ACCESS_ACCEPT, CODES.ACCESS_REJECT, CODES.ACCESS_CHALLENGE],
  [CODES.ACCOUNTING_REQUEST]: [CODES.ACCOUNTING_RESPONSE],
  [CODES.STATUS_SERVER]: [CODES.ACCESS_ACCEPT, CODES.ACCOUNTING_RESPONSE],
};

/**
 * Reads a request from a client whose secret is known (the listener finds the
 * client by source address first). Accepted only when its authenticators
 * verify: Message-Authenticator where present or required; for an
 * Accounting-Request the Request Authenticator of RFC 2866 §3, which already
 * covers every octet, so `requireMessageAuthenticator` does not apply to it.
 */
export function readRequest(datagram: Uint8Array, secret: Secret, options: VerifyOptions): VerifiedRequest {
  const packet = decodePacket(datagram);
  const code = packet.code;
  refuseUnless(isRequestCode(code), 'unexpected_code', `a ${CODE_NAMES[code]} is not a request`);
  const key = secretOctets(secret);
  const accounting = code === CODES.ACCOUNTING_REQUEST;
  if (accounting) {
    refuseUnless(sameDigest(accountingRequestAuthenticator(packet.bytes, key), packet.authenticator), 'bad_authenticator', 'the Accounting-Request authenticator does not verify');
  }
  const required = (options.requireMessageAuthenticator && !accounting) || code === CODES.STATUS_SERVER || has(packet, 'EAP-Message');
  const field = accounting ? Buffer.alloc(AUTHENTICATOR_LENGTH) : packet.authenticator;
  const messageAuthenticated = checkMessageAuthenticator(packet, field, key, required);
  return { ...packet, code, messageAuthenticated };
}

function checkMessageAuthenticator(packet: RadiusPacket, authenticatorField: Buffer, key: Buffer, required: boolean): boolean {
  const offset = offsetOf(packet, TYPES.MESSAGE_AUTHENTICATOR);
  if (offset < 0) {
    refuseUnless(!required, 'missing_message_authenticator', `a ${CODE_NAMES[packet.code]} without Message-Authenticator`);
    return false;
  }
  const expected = messageAuthenticator(packet.bytes, authenticatorField, offset, key);
  const sent = packet.bytes.subarray(offset + 2, offset + 2 + AUTHENTICATOR_LENGTH);
  refuseUnless(sameDigest(expected, sent), 'bad_message_authenticator', `the Message-Authenticator of a ${CODE_NAMES[packet.code]} does not verify`, { attribute: 'Message-Authenticator', offset });
  return true;
}

/**
 * The authenticator field a reply's Message-Authenticator is computed over:
 * the request's Request Authenticator (RFC 3579 §3.2), except in an
 * Accounting-Response to an Accounting-Request, where no RFC says and
 * FreeRADIUS (whose radclient judges the tests) uses 16 zero octets, as for
 * the Accounting-Request itself.
 */
function replyField(requestCode: RequestCode, replyCode: ReplyCode, requestAuthenticator: Buffer): Buffer {
  return requestCode === CODES.ACCOUNTING_REQUEST && replyCode === CODES.ACCOUNTING_RESPONSE ? Buffer.alloc(AUTHENTICATOR_LENGTH) : requestAuthenticator;
}

function refuseOwned(attributes: readonly RadiusAttribute[], owned: readonly number[]): void {
  for (const { type } of attributes) {
    if (owned.includes(type)) throw new RadiusError('codec_owned_attribute', `attribute ${type} is written by the codec, not the caller`, { attribute: String(type) });
  }
}

/**
 * Answers a request. Message-Authenticator is the first attribute of every
 * reply: BlastRADIUS precomputes an MD5 collision over what the reply holds
 * before the Proxy-State the attacker injected, and with the HMAC first that
 * prefix starts with 16 octets nobody without the secret can know. The
 * request's Proxy-State attributes follow the caller's, unmodified and in
 * order (RFC 2865 §5.33). The Response Authenticator is computed last, over
 * the finished packet.
 */
export function encodeReply(request: Pick<RadiusPacket, 'code' | 'identifier' | 'authenticator' | 'attributes'>, reply: { code: ReplyCode; attributes?: readonly RadiusAttribute[] }, secret: Secret): Buffer {
  const requestCode = request.code;
  refuseUnless(isRequestCode(requestCode) && REPLIES[requestCode].includes(reply.code), 'unexpected_code', `a ${CODE_NAMES[reply.code]} does not answer a ${CODE_NAMES[requestCode]}`);
  const given = reply.attributes ?? [];
  refuseOwned(given, [TYPES.MESSAGE_AUTHENTICATOR, TYPES.PROXY_STATE]);
  const key = secretOctets(secret);
  const bytes = encodePacket({
    code: reply.code,
    identifier: request.identifier,
    authenticator: request.authenticator,
    attributes: [{ type: TYPES.MESSAGE_AUTHENTICATOR, value: Buffer.alloc(AUTHENTICATOR_LENGTH) }, ...given, ...proxyStates(request)],
  });
  messageAuthenticator(bytes, replyField(requestCode, reply.code, request.authenticator), HEADER_LENGTH, key).copy(bytes, HEADER_LENGTH + 2);
  responseAuthenticator(bytes, request.authenticator, key).copy(bytes, 4);
  return bytes;
}

/** What a client keeps of a request it sent, to accept the reply. */
export interface SentRequest {
  readonly code: RequestCode;
  readonly identifier: number;
  readonly authenticator: Buffer;
  readonly bytes: Buffer;
}

/**
 * Builds a request as a client sends it, Message-Authenticator first. An
 * Access-Request or Status-Server gets 16 random octets as its Request
 * Authenticator (RFC 2865 §3 asks for unpredictable ones) unless the caller
 * gives one; `password` is hidden as User-Password with it. An
 * Accounting-Request's authenticator is computed (RFC 2866 §3).
 */
export function encodeRequest(
  request: { code: RequestCode; identifier: number; attributes?: readonly RadiusAttribute[]; password?: string; authenticator?: Buffer },
  secret: Secret,
): SentRequest {
  const given = request.attributes ?? [];
  refuseOwned(given, [TYPES.MESSAGE_AUTHENTICATOR, TYPES.USER_PASSWORD]);
  const key = secretOctets(secret);
  const accounting = request.code === CODES.ACCOUNTING_REQUEST;
  refuseUnless(!(accounting && request.password !== undefined), 'unexpected_code', 'an Accounting-Request carries no User-Password');
  const authenticator = accounting ? Buffer.alloc(AUTHENTICATOR_LENGTH) : (request.authenticator ?? randomBytes(AUTHENTICATOR_LENGTH));
  const password = request.password === undefined ? [] : [hidePassword(request.password, authenticator, key)];
  const bytes = encodePacket({
    code: request.code,
    identifier: request.identifier,
    authenticator,
    attributes: [{ type: TYPES.MESSAGE_AUTHENTICATOR, value: Buffer.alloc(AUTHENTICATOR_LENGTH) }, ...given, ...password],
  });
  messageAuthenticator(bytes, authenticator, HEADER_LENGTH, key).copy(bytes, HEADER_LENGTH + 2);
  if (accounting) accountingRequestAuthenticator(bytes, key).copy(bytes, 4);
  return { code: request.code, identifier: request.identifier, authenticator: bytes.subarray(4, HEADER_LENGTH), bytes };
}

export interface VerifiedResponse extends RadiusPacket {
  readonly code: ReplyCode;
  readonly messageAuthenticated: boolean;
}

/**
 * Accepts a reply to a request this side sent: a reply code that answers it,
 * the same Identifier, a Response Authenticator that verifies, and a
 * Message-Authenticator that verifies where present or required.
 */
export function readResponse(datagram: Uint8Array, sent: Pick<SentRequest, 'code' | 'identifier' | 'authenticator'>, secret: Secret, options: VerifyOptions): VerifiedResponse {
  const packet = decodePacket(datagram);
  const code = packet.code;
  refuseUnless(isReplyCode(code) && REPLIES[sent.code].includes(code), 'unexpected_code', `a ${CODE_NAMES[code]} does not answer a ${CODE_NAMES[sent.code]}`);
  refuseUnless(packet.identifier === sent.identifier, 'identifier_mismatch', `a reply with Identifier ${packet.identifier} to request ${sent.identifier}`);
  const key = secretOctets(secret);
  refuseUnless(sameDigest(responseAuthenticator(packet.bytes, sent.authenticator, key), packet.authenticator), 'bad_authenticator', `the ${CODE_NAMES[code]} Response Authenticator does not verify`);
  const required = options.requireMessageAuthenticator || has(packet, 'EAP-Message');
  const messageAuthenticated = checkMessageAuthenticator(packet, replyField(sent.code, code, sent.authenticator), key, required);
  return { ...packet, code, messageAuthenticated };
}
