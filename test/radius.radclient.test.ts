import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { attribute, first, replyMessages } from '../src/protocols/radius/attributes.js';
import { md5 } from '../src/protocols/radius/authenticators.js';
import { chapResponse, credentialsOf, verifyChap, type ChapCredentials } from '../src/protocols/radius/credentials.js';
import { CODES, type ReplyCode } from '../src/protocols/radius/dictionary.js';
import { RadiusError } from '../src/protocols/radius/errors.js';
import { encodeReply, readRequest, type VerifiedRequest } from '../src/protocols/radius/messages.js';

/**
 * The codec against Debian's radclient (freeradius-utils), an independent
 * implementation: what radclient sends decodes and verifies here, and what
 * the codec answers radclient accepts. radclient drops a reply whose
 * authenticators are wrong, so it judges the replies (the wrong-secret and
 * forged Message-Authenticator cases prove it does).
 */
const radclient = (() => {
  try {
    execFileSync('radclient', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error('radclient is required in CI (.ci/run installs freeradius-utils)');
    return false;
  }
})();

const SECRET = 'testing123';
const REQUIRED = { requireMessageAuthenticator: true };

interface Exchange {
  /** What the socket received, read by the codec (or the RadiusError it raised). */
  requests: (VerifiedRequest | RadiusError)[];
  exitCode: number | null;
  output: string;
}

let socket: Socket | undefined;
afterEach(() => {
  socket?.close();
  socket = undefined;
});

/**
 * Starts a UDP socket on a free port of 127.0.0.1, runs radclient against it
 * with `input`, and answers each request with what `answer` returns (nothing
 * when it returns null or the codec refused the request).
 */
async function exchange(input: string, command: 'auth' | 'acct' | 'status', answer: (request: VerifiedRequest) => Buffer | null, clientSecret = SECRET): Promise<Exchange> {
  const server = createSocket('udp4');
  socket = server;
  const requests: Exchange['requests'] = [];
  server.on('message', (datagram, peer) => {
    let request: VerifiedRequest;
    try {
      request = readRequest(datagram, SECRET, REQUIRED);
    } catch (error) {
      requests.push(error as RadiusError);
      return;
    }
    requests.push(request);
    const reply = answer(request);
    if (reply) server.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const child = spawn('radclient', ['-x', '-t', '1', '-r', '1', `127.0.0.1:${port}`, command, clientSecret], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.end(`${input}\n`);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { requests, exitCode, output };
}

const reply = (code: ReplyCode, attributes = [attribute('Class', 'signin-1')]) => (request: VerifiedRequest) => encodeReply(request, { code, attributes }, SECRET);

describe.skipIf(!radclient)('radclient (freeradius-utils) and the codec', () => {
  it('PAP: the password recovers, the Message-Authenticator verifies, and radclient accepts the Access-Accept', async () => {
    const run = await exchange('User-Name = bob, User-Password = secret123, Message-Authenticator = 0x00', 'auth', reply(CODES.ACCESS_ACCEPT, replyMessages('Welcome, bob')));
    expect(run.requests).toHaveLength(1);
    const request = run.requests[0] as VerifiedRequest;
    expect(request).toMatchObject({ code: CODES.ACCESS_REQUEST, messageAuthenticated: true });
    expect(first(request, 'User-Name')).toBe('bob');
    expect(credentialsOf(request, SECRET)).toEqual({ kind: 'pap', password: 'secret123' });
    expect(run.output).toContain('Received Access-Accept');
    expect(run.output).toContain('Reply-Message = "Welcome, bob"');
    expect(run.exitCode).toBe(0);
  });

  it('radclient drops a reply signed with another secret', async () => {
    const run = await exchange('User-Name = bob, User-Password = secret123, Message-Authenticator = 0x00', 'auth', (request) => encodeReply(request, { code: CODES.ACCESS_ACCEPT }, 'not-the-secret'));
    expect(run.output).not.toContain('Received Access-Accept');
    expect(run.exitCode).not.toBe(0);
  });

  it('radclient drops a reply whose Message-Authenticator alone is wrong', async () => {
    const run = await exchange('User-Name = bob, User-Password = secret123, Message-Authenticator = 0x00', 'auth', (request) => {
      const forged = encodeReply(request, { code: CODES.ACCESS_ACCEPT }, SECRET);
      forged[22] = forged[22]! ^ 0xff;
      // A Response Authenticator that matches the altered packet: only the HMAC is wrong.
      md5(forged.subarray(0, 4), request.authenticator, forged.subarray(20), Buffer.from(SECRET)).copy(forged, 4);
      return forged;
    });
    expect(run.output).toContain('invalid Message-Authenticator');
    expect(run.output).not.toContain('Received Access-Accept');
  });

  it('a request without Message-Authenticator, or with another secret, is refused and left unanswered', async () => {
    const bare = await exchange('User-Name = bob, User-Password = secret123', 'auth', reply(CODES.ACCESS_ACCEPT));
    expect(bare.requests.map((r) => (r instanceof RadiusError ? r.reason : 'read'))).toEqual(['missing_message_authenticator']);
    const wrong = await exchange('User-Name = bob, User-Password = secret123, Message-Authenticator = 0x00', 'auth', reply(CODES.ACCESS_ACCEPT), 'another-secret');
    expect(wrong.requests.map((r) => (r instanceof RadiusError ? r.reason : 'read'))).toEqual(['bad_message_authenticator']);
  });

  it('CHAP: the response verifies with the password only, and radclient reads the Access-Reject and its Reply-Message', async () => {
    const run = await exchange('User-Name = bob, CHAP-Password = secret123, Message-Authenticator = 0x00', 'auth', reply(CODES.ACCESS_REJECT, replyMessages('CHAP needs push or a call')));
    const chap = credentialsOf(run.requests[0] as VerifiedRequest, SECRET) as ChapCredentials;
    expect(chap.kind).toBe('chap');
    expect(verifyChap(chap, 'secret123')).toBe(true);
    expect(verifyChap(chap, 'secret124')).toBe(false);
    expect(chapResponse(chap.ident, 'secret123', chap.challenge)).toEqual(chap.response);
    expect(run.output).toContain('Received Access-Reject');
    expect(run.output).toContain('Reply-Message = "CHAP needs push or a call"');
  });

  it('MS-CHAP: v1 from radclient and v2 attributes are recognised', async () => {
    const v1 = await exchange('User-Name = bob, MS-CHAP-Password = secret123, Message-Authenticator = 0x00', 'auth', reply(CODES.ACCESS_REJECT));
    expect(credentialsOf(v1.requests[0] as VerifiedRequest, SECRET)).toMatchObject({ kind: 'mschap', challenge: expect.any(Buffer) });
    const challenge = '11'.repeat(16);
    const response = `07 00 ${'22'.repeat(16)} ${'00'.repeat(8)} ${'33'.repeat(24)}`.replace(/ /g, '');
    const v2 = await exchange(`User-Name = bob, MS-CHAP-Challenge = 0x${challenge}, MS-CHAP2-Response = 0x${response}, Message-Authenticator = 0x00`, 'auth', reply(CODES.ACCESS_REJECT));
    expect(credentialsOf(v2.requests[0] as VerifiedRequest, SECRET)).toEqual({
      kind: 'mschapv2',
      ident: 7,
      flags: 0,
      authenticatorChallenge: Buffer.from(challenge, 'hex'),
      peerChallenge: Buffer.alloc(16, 0x22),
      ntResponse: Buffer.alloc(24, 0x33),
    });
  });

  it('a Reply-Message over 253 octets arrives in parts, in order; Proxy-State comes back in order', async () => {
    const text = `${'Approve the sign-in in the app, or type the code. '.repeat(8)}🔐`;
    const run = await exchange('User-Name = bob, User-Password = x, Proxy-State = 0x6f6e65, Proxy-State = 0x74776f, Message-Authenticator = 0x00', 'auth', reply(CODES.ACCESS_CHALLENGE, [attribute('State', Buffer.alloc(16, 1)), ...replyMessages(text)]));
    expect(run.output).toContain('Received Access-Challenge');
    const received = run.output.slice(run.output.indexOf('Received'));
    const parts = [...received.matchAll(/Reply-Message = "(.*)"/g)].map((match) => match[1]);
    expect(parts.length).toBe(2);
    expect(parts.join('')).toBe(text);
    expect([...received.matchAll(/Proxy-State = (0x[0-9a-f]+)/g)].map((match) => match[1])).toEqual(['0x6f6e65', '0x74776f']);
    // radclient names the first attribute it reads first.
    expect(received.split('\n')[1]).toMatch(/^\s*Message-Authenticator = 0x[0-9a-f]{32}$/);
  });

  it('Status-Server (RFC 5997) verifies and radclient accepts the Access-Accept', async () => {
    const run = await exchange('Message-Authenticator = 0x00', 'status', reply(CODES.ACCESS_ACCEPT, []));
    expect(run.requests[0]).toMatchObject({ code: CODES.STATUS_SERVER, messageAuthenticated: true });
    expect(run.output).toContain('Received Access-Accept');
    expect(run.exitCode).toBe(0);
  });

  it('Accounting-Request: the Request Authenticator verifies and radclient accepts the Accounting-Response', async () => {
    const run = await exchange('User-Name = bob, Acct-Status-Type = Start, Acct-Session-Id = "s-1"', 'acct', reply(CODES.ACCOUNTING_RESPONSE, []));
    const request = run.requests[0] as VerifiedRequest;
    expect(request.code).toBe(CODES.ACCOUNTING_REQUEST);
    expect([first(request, 'Acct-Status-Type'), first(request, 'Acct-Session-Id')]).toEqual([1, 's-1']);
    expect(run.output).toContain('Received Accounting-Response');
    expect(run.exitCode).toBe(0);
  });
});

if (!radclient) {
  describe('radclient (freeradius-utils) and the codec', () => {
    it.skip('skipped: radclient is not installed (apt-get install freeradius-utils)', () => undefined);
  });
}
