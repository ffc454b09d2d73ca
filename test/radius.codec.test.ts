import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { all, attribute, attributeByName, first, proxyStates, replyMessageOf, replyMessages } from '../src/protocols/radius/attributes.js';
import { accountingRequestAuthenticator, md5, responseAuthenticator } from '../src/protocols/radius/authenticators.js';
import { decodePacket, encodePacket, MAX_PACKET_LENGTH, type RadiusAttribute } from '../src/protocols/radius/codec.js';
import { chapPasswordAttribute, credentialsOf, verifyChap, type ChapCredentials } from '../src/protocols/radius/credentials.js';
import { attributeNamed, CODES, MICROSOFT, TYPES } from '../src/protocols/radius/dictionary.js';
import { RadiusError, type RadiusRefusal } from '../src/protocols/radius/errors.js';
import { encodeReply, encodeRequest, readRequest, readResponse } from '../src/protocols/radius/messages.js';
import { hidePassword, recoverPassword } from '../src/protocols/radius/user-password.js';
import { microsoftAttribute, microsoftValue, vendorAttribute, vendorAttributesOf } from '../src/protocols/radius/vendor.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const REQUIRED = { requireMessageAuthenticator: true };
const LEGACY = { requireMessageAuthenticator: false };
const SECRET = 'a-shared-secret-of-some-length';

/** Runs `fn` and returns the RadiusError's reason; fails if it returns or throws anything else. */
function refusal(fn: () => unknown): RadiusRefusal {
  try {
    fn();
  } catch (error) {
    if (error instanceof RadiusError) return error.reason;
    throw error;
  }
  throw new Error('expected a RadiusError, got a result');
}

// RFC 2865 §7: the examples' hex dumps, shared secret "xyzzy5461".
const RFC_SECRET = 'xyzzy5461';
const RFC_7_1_REQUEST = hex(`01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
  93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03`);
const RFC_7_1_ACCEPT = hex('02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00 0e 06 c0 a8 01 03');
const RFC_7_2_REQUEST = hex(`01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e 0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9
  75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04 06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00 02 07 06 00 00 00 01`);
const RFC_7_2_ACCEPT = hex(`02 01 00 38 15 ef bc 7d ab 26 cf a3 dc 34 d9 c0 3c 86 01 a4 06 06 00 00 00 02 07 06 00 00 00 01
  08 06 ff ff ff fe 0a 06 00 00 00 02 0d 06 00 00 00 01 0c 06 00 00 05 dc`);
const RFC_7_3_REQUEST = hex(`01 02 00 39 f3 a4 7a 1f 6a 6d 76 71 0b 94 7a b9 30 41 a0 39 01 07 6d 6f 70 73 79 02 12 33 65 75
  73 77 82 89 b5 70 88 5e 15 08 48 25 c5 04 06 c0 a8 01 10 05 06 00 00 00 07`);
const RFC_7_3_CHALLENGE = hex(`0b 02 00 4e 36 f3 c8 76 4a e8 c7 11 57 40 3c 0c 71 ff 9c 45 12 30 43 68 61 6c 6c 65 6e 67 65 20
  33 32 37 36 39 34 33 30 2e 20 20 45 6e 74 65 72 20 72 65 73 70 6f 6e 73 65 20 61 74 20 70 72 6f 6d 70 74 2e 18 0a 33 32 37
  36 39 34 33 30`);
const RFC_7_3_ANSWER = hex(`01 03 00 43 b1 22 55 6d 42 8a 13 d0 d6 25 38 07 c4 57 ec f0 01 07 6d 6f 70 73 79 02 12 69 2c 1f
  20 5f c0 81 b9 19 b9 51 95 f5 61 a5 81 04 06 c0 a8 01 10 05 06 00 00 00 07 18 0a 33 32 37 36 39 34 33 30`);
const RFC_7_3_REJECT = hex('03 03 00 14 a4 2f 4f ca 45 91 6c 4e 09 c8 34 0f 9e 74 6a a0');
// RFC 5997 §6.1 and §6.2: Status-Server to the authentication and accounting ports, and the answer to the first.
const RFC_5997_STATUS_AUTH = hex('0c da 00 26 8a 54 f4 68 6f b3 94 c5 28 66 e3 02 18 5d 06 23 50 12 5a 66 5e 2e 1e 84 11 f3 e2 43 82 20 97 c8 4f a3');
const RFC_5997_ACCEPT = hex('02 da 00 14 ef 0d 55 2a 4b f2 d6 93 ec 2b 6f e8 b5 41 1d 66');
const RFC_5997_STATUS_ACCT = hex('0c b3 00 26 92 5f 6b 66 dd 5f ed 57 1f cb 1d b7 ad 38 82 60 50 12 e8 d6 ea bd a9 10 87 5c d9 1f da de 26 36 78 58');

describe('RFC 2865 §7 examples', () => {
  it('7.1: reads the Access-Request, recovers "arctangent" and hides it to the same octets', () => {
    const request = readRequest(RFC_7_1_REQUEST, RFC_SECRET, LEGACY);
    expect(request).toMatchObject({ code: CODES.ACCESS_REQUEST, identifier: 0, messageAuthenticated: false });
    expect(first(request, 'User-Name')).toBe('nemo');
    expect(first(request, 'NAS-IP-Address')).toBe('192.168.1.16');
    expect(first(request, 'NAS-Port')).toBe(3);
    expect(credentialsOf(request, RFC_SECRET)).toEqual({ kind: 'pap', password: 'arctangent' });
    expect(hidePassword('arctangent', request.authenticator, Buffer.from(RFC_SECRET)).value).toEqual(first(request, 'User-Password'));
    expect(encodePacket(request)).toEqual(RFC_7_1_REQUEST);
  });

  it('7.1: without Message-Authenticator the request is refused where one is required', () => {
    expect(refusal(() => readRequest(RFC_7_1_REQUEST, RFC_SECRET, REQUIRED))).toBe('missing_message_authenticator');
  });

  it('7.1: the Access-Accept Response Authenticator verifies, and the same reply rebuilds to its octets', () => {
    const request = decodePacket(RFC_7_1_REQUEST);
    const accept = readResponse(RFC_7_1_ACCEPT, { code: CODES.ACCESS_REQUEST, identifier: 0, authenticator: request.authenticator }, RFC_SECRET, LEGACY);
    expect(first(accept, 'Service-Type')).toBe(1);
    expect(first(accept, 'Login-Service')).toBe(0);
    expect(first(accept, 'Login-IP-Host')).toBe('192.168.1.3');
    const rebuilt = encodePacket({ ...accept, authenticator: Buffer.alloc(16) });
    expect(responseAuthenticator(rebuilt, request.authenticator, Buffer.from(RFC_SECRET))).toEqual(hex('86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2'));
    expect(refusal(() => readResponse(RFC_7_1_ACCEPT, { code: CODES.ACCESS_REQUEST, identifier: 0, authenticator: request.authenticator }, 'xyzzy5462', LEGACY))).toBe('bad_authenticator');
  });

  it('7.2: reads the CHAP request (challenge = Request Authenticator) and its Access-Accept', () => {
    const request = readRequest(RFC_7_2_REQUEST, RFC_SECRET, LEGACY);
    expect(first(request, 'User-Name')).toBe('flopsy');
    expect([first(request, 'NAS-Port'), first(request, 'Service-Type'), first(request, 'Framed-Protocol')]).toEqual([20, 2, 1]);
    const chap = credentialsOf(request, RFC_SECRET) as ChapCredentials;
    expect(chap).toMatchObject({ kind: 'chap', ident: 0x16, challenge: request.authenticator });
    expect(chap.response).toEqual(hex('e9 75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75'));
    const accept = readResponse(RFC_7_2_ACCEPT, { code: CODES.ACCESS_REQUEST, identifier: 1, authenticator: request.authenticator }, RFC_SECRET, LEGACY);
    expect(first(accept, 'Framed-IP-Address')).toBe('255.255.255.254');
    // The RFC's text says Framed-Routing None; its dump (which the authenticator covers) says 2 (erratum 1469).
    expect([first(accept, 'Framed-Routing'), first(accept, 'Framed-Compression'), first(accept, 'Framed-MTU')]).toEqual([2, 1, 1500]);
  });

  it('7.3: the challenge, its State and Reply-Message, the answer and the Access-Reject', () => {
    const request = readRequest(RFC_7_3_REQUEST, RFC_SECRET, LEGACY);
    expect(credentialsOf(request, RFC_SECRET)).toEqual({ kind: 'pap', password: 'challenge' });
    const challenge = readResponse(RFC_7_3_CHALLENGE, { code: CODES.ACCESS_REQUEST, identifier: 2, authenticator: request.authenticator }, RFC_SECRET, LEGACY);
    expect(challenge.code).toBe(CODES.ACCESS_CHALLENGE);
    expect(replyMessageOf(challenge)).toBe('Challenge 32769430.  Enter response at prompt.');
    expect(first(challenge, 'State')?.toString()).toBe('32769430');
    const answer = readRequest(RFC_7_3_ANSWER, RFC_SECRET, LEGACY);
    expect(credentialsOf(answer, RFC_SECRET)).toEqual({ kind: 'pap', password: '99101462' });
    expect(first(answer, 'State')).toEqual(first(challenge, 'State'));
    const reject = readResponse(RFC_7_3_REJECT, { code: CODES.ACCESS_REQUEST, identifier: 3, authenticator: answer.authenticator }, RFC_SECRET, LEGACY);
    expect(reject).toMatchObject({ code: CODES.ACCESS_REJECT, attributes: [] });
  });
});

describe('RFC 5997 §6 Status-Server examples (Message-Authenticator with bytes)', () => {
  it('verifies the Message-Authenticator of both queries and the Access-Accept to the first', () => {
    const auth = readRequest(RFC_5997_STATUS_AUTH, RFC_SECRET, LEGACY);
    expect(auth).toMatchObject({ code: CODES.STATUS_SERVER, identifier: 0xda, messageAuthenticated: true });
    expect(readRequest(RFC_5997_STATUS_ACCT, RFC_SECRET, LEGACY).messageAuthenticated).toBe(true);
    expect(readResponse(RFC_5997_ACCEPT, auth, RFC_SECRET, LEGACY).code).toBe(CODES.ACCESS_ACCEPT);
    expect(refusal(() => readRequest(RFC_5997_STATUS_AUTH, 'xyzzy5462', LEGACY))).toBe('bad_message_authenticator');
  });

  it('refuses a Status-Server without Message-Authenticator even from a legacy client', () => {
    const bare = encodePacket({ code: CODES.STATUS_SERVER, identifier: 1, authenticator: Buffer.alloc(16, 7), attributes: [] });
    expect(refusal(() => readRequest(bare, RFC_SECRET, LEGACY))).toBe('missing_message_authenticator');
  });

  it('answers a Status-Server with Access-Accept or Accounting-Response, nothing else', () => {
    const status = readRequest(RFC_5997_STATUS_AUTH, RFC_SECRET, LEGACY);
    for (const code of [CODES.ACCESS_ACCEPT, CODES.ACCOUNTING_RESPONSE]) {
      expect(readResponse(encodeReply(status, { code }, RFC_SECRET), status, RFC_SECRET, REQUIRED).code).toBe(code);
    }
    expect(refusal(() => encodeReply(status, { code: CODES.ACCESS_REJECT }, RFC_SECRET))).toBe('unexpected_code');
  });
});

/** An independent reading of RFC 3579 §3.2, with node:crypto only, to judge the codec's replies. */
function hmacVerifies(bytes: Buffer, requestAuthenticator: Buffer, secret: string, offset = 20): boolean {
  const copy = Buffer.from(bytes);
  requestAuthenticator.copy(copy, 4);
  copy.fill(0, offset + 2, offset + 18);
  return createHmac('md5', secret).update(copy).digest().equals(bytes.subarray(offset + 2, offset + 18));
}

describe('replies', () => {
  const request = () => readRequest(
    encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 42, password: 'pw', attributes: [attribute('User-Name', 'alice'), attribute('Proxy-State', Buffer.from('first')), attribute('NAS-Port', 1), attribute('Proxy-State', Buffer.from('second'))] }, SECRET).bytes,
    SECRET,
    REQUIRED,
  );

  it('put Message-Authenticator first, copy Proxy-State in order last, and verify', () => {
    const sent = request();
    const bytes = encodeReply(sent, { code: CODES.ACCESS_ACCEPT, attributes: [attribute('Class', 'signin-1'), ...replyMessages('Welcome')] }, SECRET);
    expect(bytes[20]).toBe(TYPES.MESSAGE_AUTHENTICATOR);
    expect(hmacVerifies(bytes, sent.authenticator, SECRET)).toBe(true);
    expect(md5(Buffer.concat([bytes.subarray(0, 4), sent.authenticator, bytes.subarray(20)]), Buffer.from(SECRET))).toEqual(bytes.subarray(4, 20));
    const reply = readResponse(bytes, sent, SECRET, REQUIRED);
    expect(reply.attributes.map((a) => a.type)).toEqual([TYPES.MESSAGE_AUTHENTICATOR, 25, TYPES.REPLY_MESSAGE, TYPES.PROXY_STATE, TYPES.PROXY_STATE]);
    expect(proxyStates(reply).map((a) => a.value.toString())).toEqual(['first', 'second']);
    expect(reply).toMatchObject({ identifier: 42, messageAuthenticated: true });
  });

  it('refuse attributes the codec places itself', () => {
    const sent = request();
    expect(refusal(() => encodeReply(sent, { code: CODES.ACCESS_ACCEPT, attributes: [attribute('Proxy-State', 'x')] }, SECRET))).toBe('codec_owned_attribute');
    expect(refusal(() => encodeReply(sent, { code: CODES.ACCESS_ACCEPT, attributes: [attribute('Message-Authenticator', Buffer.alloc(16))] }, SECRET))).toBe('codec_owned_attribute');
    expect(refusal(() => encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 1, attributes: [attribute('User-Password', Buffer.alloc(16))] }, SECRET))).toBe('codec_owned_attribute');
  });

  it('are refused by a client for the wrong request, Identifier, secret, or a missing Message-Authenticator', () => {
    const sent = request();
    const good = encodeReply(sent, { code: CODES.ACCESS_REJECT }, SECRET);
    expect(refusal(() => readResponse(good, { ...sent, identifier: 43 }, SECRET, REQUIRED))).toBe('identifier_mismatch');
    expect(refusal(() => readResponse(good, { ...sent, code: CODES.ACCOUNTING_REQUEST }, SECRET, REQUIRED))).toBe('unexpected_code');
    expect(refusal(() => readResponse(good, sent, 'another-secret', REQUIRED))).toBe('bad_authenticator');
    expect(refusal(() => readResponse(sent.bytes, sent, SECRET, REQUIRED))).toBe('unexpected_code');
    const unsigned = encodePacket({ code: CODES.ACCESS_ACCEPT, identifier: 42, authenticator: Buffer.alloc(16), attributes: [] });
    responseAuthenticator(unsigned, sent.authenticator, Buffer.from(SECRET)).copy(unsigned, 4);
    expect(readResponse(unsigned, sent, SECRET, LEGACY).messageAuthenticated).toBe(false);
    expect(refusal(() => readResponse(unsigned, sent, SECRET, REQUIRED))).toBe('missing_message_authenticator');
  });

  it('answer only with codes that answer the request', () => {
    expect(refusal(() => encodeReply(request(), { code: CODES.ACCOUNTING_RESPONSE }, SECRET))).toBe('unexpected_code');
    expect(refusal(() => encodeReply({ ...request(), code: CODES.ACCESS_ACCEPT }, { code: CODES.ACCESS_ACCEPT }, SECRET))).toBe('unexpected_code');
  });

  it('refuse to exceed 4096 octets', () => {
    const long = replyMessages('x'.repeat(MAX_PACKET_LENGTH));
    expect(refusal(() => encodeReply(request(), { code: CODES.ACCESS_REJECT, attributes: long }, SECRET))).toBe('packet_too_long');
  });
});

describe('requests', () => {
  it.each(['', 'p', 'exactly16octets!', 'seventeen octets!', 'pässwörd 🔐 with UTF-8', 'x'.repeat(128)])('hide and recover the password %j', (password) => {
    const sent = encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 7, password, attributes: [attribute('User-Name', 'bob')] }, SECRET);
    const request = readRequest(sent.bytes, SECRET, REQUIRED);
    expect(request.messageAuthenticated).toBe(true);
    expect(first(request, 'User-Password')!.length % 16).toBe(0);
    expect(credentialsOf(request, SECRET)).toEqual({ kind: 'pap', password });
  });

  it('refuse a password longer than 128 octets', () => {
    expect(refusal(() => encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 7, password: 'x'.repeat(129) }, SECRET))).toBe('attribute_too_long');
  });

  it('refuse a User-Password that does not recover to UTF-8', () => {
    const authenticator = Buffer.alloc(16, 1);
    const pad = createHash('md5').update(SECRET).update(authenticator).digest();
    const hidden = Buffer.from(pad.map((octet) => octet ^ 0xff));
    expect(refusal(() => recoverPassword(hidden, authenticator, Buffer.from(SECRET)))).toBe('bad_user_password');
  });

  it('accounting: the Request Authenticator proves the secret, and a Message-Authenticator in it verifies over zeros', () => {
    const sent = encodeRequest({ code: CODES.ACCOUNTING_REQUEST, identifier: 9, attributes: [attribute('Acct-Status-Type', 1), attribute('Acct-Session-Id', 's-1'), attribute('Event-Timestamp', new Date('2026-01-02T03:04:05Z'))] }, SECRET);
    const request = readRequest(sent.bytes, SECRET, LEGACY);
    expect(first(request, 'Event-Timestamp')).toEqual(new Date('2026-01-02T03:04:05Z'));
    expect(request.messageAuthenticated).toBe(true);
    expect(refusal(() => readRequest(sent.bytes, 'another-secret', LEGACY))).toBe('bad_authenticator');
    // A wrong Message-Authenticator under a Request Authenticator recomputed to match: only the HMAC catches it.
    const forged = Buffer.from(sent.bytes);
    forged[22] = forged[22]! ^ 1;
    forged.fill(0, 4, 20);
    accountingRequestAuthenticator(forged, Buffer.from(SECRET)).copy(forged, 4);
    expect(refusal(() => readRequest(forged, SECRET, LEGACY))).toBe('bad_message_authenticator');
    const reply = encodeReply(request, { code: CODES.ACCOUNTING_RESPONSE }, SECRET);
    expect(readResponse(reply, sent, SECRET, REQUIRED).code).toBe(CODES.ACCOUNTING_RESPONSE);
  });

  it('an Access-Request with EAP-Message needs a Message-Authenticator even from a legacy client (RFC 3579 §3.2)', () => {
    const bare = encodePacket({ code: CODES.ACCESS_REQUEST, identifier: 1, authenticator: Buffer.alloc(16, 3), attributes: [attribute('EAP-Message', Buffer.of(2, 0, 0, 5, 1))] });
    expect(refusal(() => readRequest(bare, SECRET, LEGACY))).toBe('missing_message_authenticator');
  });

  it('refuse an empty secret', () => {
    expect(refusal(() => readRequest(RFC_7_1_REQUEST, '', LEGACY))).toBe('empty_secret');
  });
});

describe('credentials', () => {
  const accessRequest = (attributes: RadiusAttribute[], password?: string) =>
    readRequest(encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 3, attributes: [attribute('User-Name', 'bob'), ...attributes], password }, SECRET).bytes, SECRET, REQUIRED);

  it('CHAP with a CHAP-Challenge verifies with the right password only', () => {
    const challenge = Buffer.from('0123456789abcdef');
    const chap = credentialsOf(accessRequest([chapPasswordAttribute(5, 'secret123', challenge), attribute('CHAP-Challenge', challenge)]), SECRET) as ChapCredentials;
    expect(chap).toMatchObject({ kind: 'chap', ident: 5, challenge });
    expect(verifyChap(chap, 'secret123')).toBe(true);
    expect(verifyChap(chap, 'secret124')).toBe(false);
  });

  it('recognises MS-CHAP v2 and v1 by their RFC 2548 attributes', () => {
    const v2Response = Buffer.concat([Buffer.of(9, 0), Buffer.alloc(16, 0xaa), Buffer.alloc(8), Buffer.alloc(24, 0xbb)]);
    const v2 = credentialsOf(accessRequest([microsoftAttribute('MS-CHAP-Challenge', Buffer.alloc(16, 0xcc)), microsoftAttribute('MS-CHAP2-Response', v2Response)]), SECRET);
    expect(v2).toEqual({ kind: 'mschapv2', ident: 9, flags: 0, authenticatorChallenge: Buffer.alloc(16, 0xcc), peerChallenge: Buffer.alloc(16, 0xaa), ntResponse: Buffer.alloc(24, 0xbb) });
    const v1 = credentialsOf(accessRequest([microsoftAttribute('MS-CHAP-Challenge', Buffer.alloc(8, 1)), microsoftAttribute('MS-CHAP-Response', Buffer.concat([Buffer.of(4, 1), Buffer.alloc(24, 2), Buffer.alloc(24, 3)]))]), SECRET);
    expect(v1).toMatchObject({ kind: 'mschap', ident: 4, flags: 1, challenge: Buffer.alloc(8, 1), ntResponse: Buffer.alloc(24, 3) });
  });

  it('refuses MS-CHAP without its challenge, with a challenge of the wrong size, or beside another credential', () => {
    const v2Response = microsoftAttribute('MS-CHAP2-Response', Buffer.alloc(50));
    expect(refusal(() => credentialsOf(accessRequest([v2Response]), SECRET))).toBe('missing_attribute');
    expect(refusal(() => credentialsOf(accessRequest([v2Response, microsoftAttribute('MS-CHAP-Challenge', Buffer.alloc(8))]), SECRET))).toBe('bad_vendor_attribute');
    expect(refusal(() => credentialsOf(accessRequest([v2Response, microsoftAttribute('MS-CHAP-Challenge', Buffer.alloc(16))], 'pw'), SECRET))).toBe('conflicting_credentials');
    expect(refusal(() => credentialsOf(accessRequest([chapPasswordAttribute(1, 'x', Buffer.alloc(16))], 'pw'), SECRET))).toBe('conflicting_credentials');
  });

  it('names EAP and requests without credentials', () => {
    expect(credentialsOf(accessRequest([attribute('EAP-Message', Buffer.of(2, 0, 0, 5, 1))]), SECRET)).toEqual({ kind: 'eap' });
    expect(credentialsOf(accessRequest([attribute('State', Buffer.from('abc'))]), SECRET)).toEqual({ kind: 'none' });
  });
});

describe('attributes', () => {
  it('split a long Reply-Message between characters and join it back', () => {
    for (const text of ['a'.repeat(600), 'é'.repeat(300), `${'x'.repeat(251)}🔐🔐 and more`, 'short']) {
      const parts = replyMessages(text);
      expect(parts.every((part) => part.value.length <= 253)).toBe(true);
      expect(parts.map((part) => part.value.toString('utf8')).join('')).toBe(text);
      expect(replyMessageOf({ attributes: parts })).toBe(text);
    }
    expect(replyMessages('a'.repeat(600)).map((part) => part.value.length)).toEqual([253, 253, 94]);
    expect(replyMessages('')).toEqual([]);
  });

  it('keep the dictionary types (text, string, address, integer, time) and refuse values they cannot carry', () => {
    const packet = { attributes: [attribute('Filter-Id', 'vpn-staff'), attribute('Class', Buffer.of(0, 1, 2)), attribute('Framed-IP-Address', '10.0.0.7'), attribute('Session-Timeout', 3600), attribute('Event-Timestamp', new Date(1_700_000_000_000))] };
    expect([first(packet, 'Filter-Id'), first(packet, 'Class'), first(packet, 'Framed-IP-Address'), first(packet, 'Session-Timeout'), first(packet, 'Event-Timestamp')]).toEqual(['vpn-staff', Buffer.of(0, 1, 2), '10.0.0.7', 3600, new Date(1_700_000_000_000)]);
    expect(all({ attributes: [attribute('Class', 'a'), attribute('Class', 'b')] }, 'Class').map(String)).toEqual(['a', 'b']);
    expect(refusal(() => attribute('Session-Timeout', -1))).toBe('bad_attribute_value');
    expect(refusal(() => attribute('Session-Timeout', 2 ** 32))).toBe('bad_attribute_value');
    expect(refusal(() => attribute('Framed-IP-Address', '10.0.0.256'))).toBe('bad_attribute_value');
    expect(refusal(() => attribute('Filter-Id', ''))).toBe('bad_attribute_value');
    expect(refusal(() => attribute('Filter-Id', 'x'.repeat(254)))).toBe('attribute_too_long');
    expect(refusal(() => attribute('Filter-Id', 7 as unknown as string))).toBe('bad_attribute_value');
    expect(attributeNamed('Filter-Id')).toMatchObject({ type: 11, kind: 'text' });
    expect(attributeNamed('No-Such-Attribute')).toBeUndefined();
    expect(attributeNamed('toString')).toBeUndefined();
    expect(attributeByName('Session-Timeout', 600)).toEqual(attribute('Session-Timeout', 600));
    expect(refusal(() => attributeByName('Session-Timeout', 'ten minutes'))).toBe('bad_attribute_value');
    expect(refusal(() => attributeByName('Filter-ID', 'staff'))).toBe('unknown_attribute');
  });

  it('carry vendor-specific attributes (RFC 2865 §5.26) for any vendor', () => {
    const cisco = vendorAttribute(9, 1, Buffer.from('shell:priv-lvl=15'));
    const packet = decodePacket(encodePacket({ code: CODES.ACCESS_ACCEPT, identifier: 1, authenticator: Buffer.alloc(16), attributes: [cisco, microsoftAttribute('MS-CHAP-Error', Buffer.from('\x01E=691'))] }));
    expect(vendorAttributesOf(packet.attributes, 9)).toEqual([{ vendorId: 9, type: 1, value: Buffer.from('shell:priv-lvl=15') }]);
    expect(microsoftValue(packet.attributes, 'MS-CHAP-Error')?.toString()).toBe('\x01E=691');
    expect(refusal(() => vendorAttribute(9, 1, Buffer.alloc(248)))).toBe('attribute_too_long');
    expect(refusal(() => vendorAttribute(0x1_000_000, 1, Buffer.alloc(1)))).toBe('bad_vendor_attribute');
    expect(refusal(() => microsoftAttribute('MS-CHAP2-Response', Buffer.alloc(49)))).toBe('bad_attribute_value');
  });
});

/** A header and attributes, with the Length field right unless told. */
function packetOf(code: number, attributeOctets: number[], length?: number): Buffer {
  const total = 20 + attributeOctets.length;
  const bytes = Buffer.alloc(total);
  bytes[0] = code;
  bytes.writeUInt16BE(length ?? total, 2);
  Buffer.from(attributeOctets).copy(bytes, 20);
  return bytes;
}

describe('malformed packets are refused with the reason named', () => {
  const vsa = (...octets: number[]) => [26, octets.length + 2, ...octets];
  const cases: [string, Buffer, RadiusRefusal][] = [
    ['19 octets', Buffer.alloc(19, 1), 'packet_too_short'],
    ['a 4097-octet datagram', packetOf(1, new Array(4077).fill(0)), 'packet_too_long'],
    ['Length 19', packetOf(1, [], 19), 'bad_length'],
    ['Length past the datagram', packetOf(1, [1, 3, 97], 24), 'truncated_packet'],
    ['Length over 4096', packetOf(1, [1, 3, 97], 5000), 'truncated_packet'],
    ['code 99', packetOf(99, []), 'unknown_code'],
    ['code 0', packetOf(0, []), 'unknown_code'],
    ['an attribute of Length 0', packetOf(1, [1, 0, 97]), 'bad_attribute_length'],
    ['an attribute of Length 1', packetOf(1, [1, 1]), 'bad_attribute_length'],
    ['an attribute running past the end', packetOf(1, [1, 9, 97, 98]), 'attribute_overflow'],
    ['a lone type octet at the end', packetOf(1, [1, 3, 97, 5]), 'attribute_overflow'],
    ['an unknown attribute running past the end', packetOf(1, [200, 4, 1]), 'attribute_overflow'],
    ['a 3-octet NAS-Port', packetOf(1, [5, 5, 0, 0, 1]), 'bad_attribute_value'],
    ['a 5-octet NAS-IP-Address', packetOf(1, [4, 7, 10, 0, 0, 1, 0]), 'bad_attribute_value'],
    ['an empty User-Name', packetOf(1, [1, 2]), 'bad_attribute_value'],
    ['a User-Name that is not UTF-8', packetOf(1, [1, 4, 0xc3, 0x28]), 'bad_attribute_value'],
    ['a 15-octet User-Password', packetOf(1, [2, 17, ...new Array(15).fill(1)]), 'bad_attribute_value'],
    ['a 17-octet User-Password', packetOf(1, [2, 19, ...new Array(17).fill(1)]), 'bad_attribute_value'],
    ['a 144-octet User-Password', packetOf(1, [2, 146, ...new Array(144).fill(1)]), 'bad_attribute_value'],
    ['a 16-octet CHAP-Password', packetOf(1, [3, 18, ...new Array(16).fill(1)]), 'bad_attribute_value'],
    ['a 4-octet CHAP-Challenge', packetOf(1, [60, 6, 1, 2, 3, 4]), 'bad_attribute_value'],
    ['a 15-octet Message-Authenticator', packetOf(1, [80, 17, ...new Array(15).fill(0)]), 'bad_attribute_value'],
    ['two Message-Authenticators', packetOf(1, [80, 18, ...new Array(16).fill(0), 80, 18, ...new Array(16).fill(0)]), 'duplicate_attribute'],
    ['two User-Names', packetOf(1, [1, 3, 97, 1, 3, 98]), 'duplicate_attribute'],
    ['two States', packetOf(1, [24, 3, 1, 24, 3, 2]), 'duplicate_attribute'],
    ['a 4-octet Vendor-Specific', packetOf(1, vsa(0, 0, 0, 9)), 'bad_attribute_value'],
    ['a Vendor-Id with a high octet', packetOf(1, vsa(1, 0, 0, 9, 1, 3, 97)), 'bad_vendor_attribute'],
    ['a Microsoft sub-attribute past its envelope', packetOf(1, vsa(0, 0, 1, 0x37, 11, 9, 1, 2)), 'bad_vendor_attribute'],
    ['a Microsoft sub-attribute of Length 1', packetOf(1, vsa(0, 0, 1, 0x37, 11, 1)), 'bad_vendor_attribute'],
    ['a 49-octet MS-CHAP2-Response', packetOf(1, vsa(0, 0, 1, 0x37, 25, 51, ...new Array(49).fill(0))), 'bad_attribute_value'],
  ];

  it.each(cases)('%s', (_name, datagram, reason) => {
    expect(refusal(() => decodePacket(datagram))).toBe(reason);
    expect(refusal(() => readRequest(datagram, SECRET, LEGACY))).toBe(reason);
  });

  it('names the attribute and its offset', () => {
    try {
      decodePacket(packetOf(1, [1, 3, 97, 5, 5, 0, 0, 1]));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RadiusError);
      expect((error as RadiusError).details).toEqual({ attribute: 'NAS-Port', offset: 23 });
      expect((error as RadiusError).message).toContain('NAS-Port');
    }
  });

  it('ignores octets after Length as padding (RFC 2865 §3)', () => {
    const sent = encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 1, password: 'pw' }, SECRET);
    const padded = Buffer.concat([sent.bytes, Buffer.from('padding')]);
    expect(readRequest(padded, SECRET, REQUIRED).bytes).toEqual(sent.bytes);
  });

  it('refuses replies where a request belongs and requests where a reply belongs', () => {
    const accept = packetOf(CODES.ACCESS_ACCEPT, []);
    expect(refusal(() => readRequest(accept, SECRET, LEGACY))).toBe('unexpected_code');
  });

  it('refuses to write what it would refuse to read', () => {
    const base = { code: CODES.ACCESS_REQUEST, identifier: 1, authenticator: Buffer.alloc(16) } as const;
    expect(refusal(() => encodePacket({ ...base, attributes: [{ type: 18, value: Buffer.alloc(254, 97) }] }))).toBe('attribute_too_long');
    expect(refusal(() => encodePacket({ ...base, attributes: [attribute('User-Name', 'a'), attribute('User-Name', 'b')] }))).toBe('duplicate_attribute');
    expect(refusal(() => encodePacket({ ...base, attributes: [{ type: 5, value: Buffer.alloc(3) }] }))).toBe('bad_attribute_value');
    expect(refusal(() => encodePacket({ ...base, identifier: 256, attributes: [] }))).toBe('bad_header');
    expect(refusal(() => encodePacket({ ...base, authenticator: Buffer.alloc(15), attributes: [] }))).toBe('bad_header');
    expect(refusal(() => encodePacket({ ...base, attributes: new Array(17).fill({ type: 200, value: Buffer.alloc(253) }) }))).toBe('packet_too_long');
  });
});

/** mulberry32: a small seeded generator, so a failing fuzz run can be repeated from its seed. */
function generator(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

interface Seed {
  name: string;
  bytes: Buffer;
  secret: string;
  /** Reads the datagram the way a server (request) or a client (reply) would. */
  read(datagram: Buffer): { bytes: Buffer };
}

function fuzzSeeds(): Seed[] {
  const pap = encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 11, password: 'secret123+123456', attributes: [attribute('User-Name', 'bob'), attribute('NAS-IP-Address', '10.1.2.3'), attribute('Calling-Station-Id', '203.0.113.9'), attribute('Proxy-State', 'p1'), attribute('Proxy-State', 'p2')] }, SECRET);
  const chap = encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 12, attributes: [attribute('User-Name', 'carol'), chapPasswordAttribute(3, 'pw', Buffer.alloc(16, 5)), attribute('CHAP-Challenge', Buffer.alloc(16, 5))] }, SECRET);
  const mschap = encodeRequest({ code: CODES.ACCESS_REQUEST, identifier: 13, attributes: [attribute('User-Name', 'dave'), microsoftAttribute('MS-CHAP-Challenge', Buffer.alloc(16, 1)), microsoftAttribute('MS-CHAP2-Response', Buffer.alloc(50, 2)), vendorAttribute(9, 1, Buffer.from('x=y'))] }, SECRET);
  const status = encodeRequest({ code: CODES.STATUS_SERVER, identifier: 14, attributes: [attribute('NAS-Identifier', 'nas-1')] }, SECRET);
  const accounting = encodeRequest({ code: CODES.ACCOUNTING_REQUEST, identifier: 15, attributes: [attribute('Acct-Status-Type', 1), attribute('Acct-Session-Id', 'abc'), attribute('Event-Timestamp', new Date(1_700_000_000_000))] }, SECRET);
  const asServer = (sent: { bytes: Buffer }, secret = SECRET): Seed => ({ name: 'request', bytes: sent.bytes, secret, read: (datagram) => readRequest(datagram, secret, REQUIRED) });
  const asClient = (sent: Parameters<typeof readResponse>[1], bytes: Buffer): Seed => ({ name: 'reply', bytes, secret: SECRET, read: (datagram) => readResponse(datagram, sent, SECRET, REQUIRED) });
  const papRequest = readRequest(pap.bytes, SECRET, REQUIRED);
  const accept = encodeReply(papRequest, { code: CODES.ACCESS_ACCEPT, attributes: [attribute('Class', 'signin-1'), attribute('Filter-Id', 'staff'), ...replyMessages('y'.repeat(300))] }, SECRET);
  const challenge = encodeReply(papRequest, { code: CODES.ACCESS_CHALLENGE, attributes: [attribute('State', Buffer.alloc(16, 9)), ...replyMessages('Enter the code')] }, SECRET);
  const accountingReply = encodeReply(readRequest(accounting.bytes, SECRET, REQUIRED), { code: CODES.ACCOUNTING_RESPONSE }, SECRET);
  return [
    asServer(pap),
    asServer(chap),
    asServer(mschap),
    asServer(status),
    asServer(accounting),
    asServer({ bytes: RFC_5997_STATUS_AUTH }, RFC_SECRET),
    asClient(pap, accept),
    asClient(pap, challenge),
    asClient(accounting, accountingReply),
  ];
}

/** One mutation of a valid packet: flipped octets, a cut, a changed Length, an attribute length changed, octets inserted, removed or appended. */
function mutate(original: Buffer, random: (below: number) => number, pool: Buffer): Buffer {
  const bytes = Buffer.from(original);
  // Random octets are slices of a pool the seeded generator filled: drawing each one afresh made the run four times slower.
  const noiseOf = (length: number) => {
    const at = random(pool.length - length);
    return pool.subarray(at, at + length);
  };
  const fixLength = (datagram: Buffer) => {
    if (datagram.length >= 4 && random(2) === 0) datagram.writeUInt16BE(Math.min(datagram.length, 0xffff), 2);
    return datagram;
  };
  switch (random(8)) {
    case 0:
      for (let flips = 1 + random(4); flips > 0; flips -= 1) {
        const at = random(bytes.length);
        bytes[at] = bytes[at]! ^ (1 + random(255));
      }
      return bytes;
    case 1:
      return bytes.subarray(0, random(bytes.length));
    case 2:
      bytes.writeUInt16BE(random(3) === 0 ? random(0x10000) : Math.max(0, bytes.length - 8 + random(17)), 2);
      return bytes;
    case 3: {
      let at = 20;
      const stops: number[] = [];
      while (at + 1 < bytes.length && bytes[at + 1]! >= 2) {
        stops.push(at);
        at += bytes[at + 1]!;
      }
      if (stops.length > 0) bytes[stops[random(stops.length)]! + 1] = random(256);
      return bytes;
    }
    case 4: {
      const at = random(bytes.length + 1);
      const inserted = noiseOf(1 + random(300));
      return fixLength(Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]));
    }
    case 5: {
      const at = random(bytes.length);
      return fixLength(Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + random(40))]));
    }
    case 6:
      return Buffer.concat([bytes, noiseOf(1 + random(64))]);
    default: {
      const noise = Buffer.from(noiseOf(random(4200)));
      if (noise.length >= 20) noise[0] = [1, 2, 3, 4, 5, 11, 12][random(7)]!;
      return fixLength(noise);
    }
  }
}

describe('fuzz: 100 000 random and mutated packets', () => {
  it('throw nothing but RadiusError and accept only packets whose authenticators verify', () => {
    const seed = 0x5eed_2026;
    const random = generator(seed);
    const seeds = fuzzSeeds();
    const pool = Buffer.from(Array.from({ length: 1 << 16 }, () => random(256)));
    // The seeds verify, by the codec and (for the replies' HMAC) by node:crypto alone.
    for (const valid of seeds) expect(valid.read(valid.bytes).bytes).toEqual(valid.bytes);
    const foreign: string[] = [];
    const forged: string[] = [];
    const reasons = new Map<string, number>();
    let accepted = 0;
    const note = (error: unknown, datagram: Buffer) => {
      if (error instanceof RadiusError) reasons.set(error.reason, (reasons.get(error.reason) ?? 0) + 1);
      else foreign.push(`${String(error)} on ${datagram.toString('hex')}`);
    };
    for (let round = 0; round < 100_000; round += 1) {
      const valid = seeds[round % seeds.length]!;
      const datagram = mutate(valid.bytes, random, pool);
      try {
        const read = valid.read(datagram);
        accepted += 1;
        // Every octet is under an authenticator: accepted means exactly the packet that was signed.
        if (!read.bytes.equals(valid.bytes)) forged.push(datagram.toString('hex'));
      } catch (error) {
        note(error, datagram);
      }
      // What the flows will call on a packet that only decoded, authenticated or not.
      try {
        const packet = decodePacket(datagram);
        credentialsOf(packet, valid.secret);
        replyMessageOf(packet);
        first(packet, 'Event-Timestamp');
        vendorAttributesOf(packet.attributes, MICROSOFT);
        vendorAttributesOf(packet.attributes, 9);
      } catch (error) {
        note(error, datagram);
      }
    }
    expect(foreign.slice(0, 5)).toEqual([]);
    expect(forged.slice(0, 5)).toEqual([]);
    // The fuzzer reaches past the header: padding is accepted and most of the refusals occur.
    expect(accepted).toBeGreaterThan(1000);
    expect([...reasons.keys()].sort()).toEqual(expect.arrayContaining([
      'attribute_overflow', 'bad_attribute_length', 'bad_attribute_value', 'bad_authenticator', 'bad_length', 'bad_message_authenticator',
      'bad_vendor_attribute', 'duplicate_attribute', 'packet_too_long', 'packet_too_short', 'truncated_packet', 'unknown_code', 'unexpected_code',
    ]));
  });
});
