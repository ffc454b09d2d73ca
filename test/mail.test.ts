import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime } from '../src/main.js';
import type { MailGateway } from '../src/modules/mail/gateway.js';
import { validateEmailAddress } from '../src/modules/mail/mail.js';
import { isLoopbackHost, parseFromAddress, smtpMailGateway } from '../src/modules/mail/smtp.js';
import { createTestRuntime, TEST_MASTER_KEY, type TestRuntime } from './helpers/runtime.js';
import { createTestStorage, DIALECTS } from './helpers/storage.js';
import { selfSignedCertificate, type TestCertificate } from './helpers/certificates.js';

/** A message as the SMTP server took it: the envelope, the headers (names in lower case) and the body. */
interface Received {
  envelopeFrom: string;
  envelopeTo: string[];
  user: string | undefined;
  headers: Record<string, string>;
  body: string;
}

function parseMessage(raw: string): { headers: Record<string, string>; body: string } {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const headers: Record<string, string> = {};
  // Unfolds continuation lines (RFC 5322 §2.2.3) before splitting names from values.
  for (const line of text.slice(0, split).replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: text.slice(split + 2) };
}

/** A real SMTP server (smtp-server) on a free loopback port that keeps every message it accepts. */
async function smtpServer(options: SMTPServerOptions = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    ...options,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const envelope = session.envelope;
        received.push({
          envelopeFrom: envelope.mailFrom ? envelope.mailFrom.address : '',
          envelopeTo: envelope.rcptTo.map((each) => each.address),
          user: session.user as string | undefined,
          ...parseMessage(Buffer.concat(chunks).toString('utf8')),
        });
        callback(null);
      });
    },
  });
  // A client that refuses the certificate drops the connection: the server reports it, the test looks at the client's side.
  const errors: Error[] = [];
  server.on('error', (error: Error) => errors.push(error));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, errors, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const mailConfig = (mail: Record<string, unknown>) => loadConfig({ overrides: { security: { masterKey: TEST_MASTER_KEY }, mail } }).mail;
const plainSmtp = (port: number, smtp: Record<string, unknown> = {}) => ({
  gateway: 'smtp',
  from: 'Countersign <no-reply@countersign.test>',
  smtp: { host: '127.0.0.1', port, security: 'none', ...smtp },
});
const resetMail = { userId: null, to: ' kim@Example.COM ', subject: 'Reset your password', text: 'Your code is 123456.\nIt expires in 10 minutes.\n' };

describe('validateEmailAddress', () => {
  it('trims, lower-cases the domain and keeps the local part as typed', () => {
    expect(validateEmailAddress('  Kim.Doe+reset@Example.COM ')).toBe('Kim.Doe+reset@example.com');
    expect(validateEmailAddress('root@localhost')).toBe('root@localhost');
    expect(validateEmailAddress("o'brien@mail.example.co.uk")).toBe("o'brien@mail.example.co.uk");
    expect(validateEmailAddress('zoë@bücher.example')).toBeNull(); // non-ASCII local part: not without SMTPUTF8
    expect(validateEmailAddress('zoe@Bücher.example')).toBe('zoe@bücher.example');
  });

  it('refuses what is not one plausible address', () => {
    for (const text of [
      '',
      'kim',
      '@example.com',
      'kim@',
      'kim@example',
      'kim@@example.com',
      'kim@a@example.com',
      'kim doe@example.com',
      'kim@exa mple.com',
      'kim@example.com, eve@example.com',
      'kim@example.com;eve@example.com',
      'Kim <kim@example.com>',
      'kim\r\nBcc: eve@example.com@example.com',
      'kim\u0000@example.com',
      '.kim@example.com',
      'kim.@example.com',
      'k..im@example.com',
      '"kim"@example.com',
      'kim@-example.com',
      'kim@example-.com',
      'kim@example..com',
      'kim@example.com.',
      'kim@[192.0.2.1]',
      `${'k'.repeat(65)}@example.com`,
    ]) {
      expect(validateEmailAddress(text), JSON.stringify(text)).toBeNull();
    }
  });

  it('allows 254 characters and no more', () => {
    const domain = (length: number) => `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(length - 128)}`;
    const local = 'k'.repeat(64);
    expect(validateEmailAddress(`${local}@${domain(189)}`)).toHaveLength(254);
    expect(validateEmailAddress(`${local}@${domain(190)}`)).toBeNull();
  });
});

describe('the SMTP settings', () => {
  it('accepts an address, or a name and an address, as the sender', () => {
    expect(parseFromAddress('Countersign <no-reply@localhost>')).toEqual({ name: 'Countersign', address: 'no-reply@localhost' });
    expect(parseFromAddress('"IT, Help Desk" <help@Example.com>')).toEqual({ name: 'IT, Help Desk', address: 'help@example.com' });
    expect(parseFromAddress('help@example.com')).toEqual({ name: '', address: 'help@example.com' });
    for (const bad of ['Countersign', 'a@example.com, b@example.com', 'IT, Help <help@example.com>', 'Help <help@example.com', 'Help\r\nBcc: x <help@example.com>', '<>']) {
      expect(parseFromAddress(bad), bad).toBeNull();
    }
  });

  it('counts only loopback hosts as loopback', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['10.0.0.1', '192.0.2.25', 'mail.example.com', '127.0.0.1.example.com', 'localhost.example.com', '::2', '0.0.0.0']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('refuses plain SMTP to a host that is not loopback, naming the key', () => {
    expect(() => smtpMailGateway(mailConfig(plainSmtp(25, { host: 'mail.example.com' })))).toThrow(/^config key mail\.smtp\.security: none .* not mail\.example\.com/);
    expect(() => smtpMailGateway(mailConfig(plainSmtp(25, { host: '192.0.2.25' })))).toThrow(/mail\.smtp\.security/);
    expect(smtpMailGateway(mailConfig(plainSmtp(25, { host: 'localhost' }))).name).toBe('smtp');
    expect(smtpMailGateway(mailConfig(plainSmtp(25, { host: 'mail.example.com', security: 'starttls' }))).keepsBody).toBe(false);
  });

  it('refuses a CA file that is missing or not a PEM certificate, naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-mail-'));
    try {
      writeFileSync(join(dir, 'not.pem'), 'not a certificate');
      expect(() => smtpMailGateway(mailConfig(plainSmtp(465, { security: 'tls', caFile: join(dir, 'missing.pem') })))).toThrow(/^config key mail\.smtp\.caFile: .*ENOENT/);
      expect(() => smtpMailGateway(mailConfig(plainSmtp(465, { security: 'tls', caFile: join(dir, 'not.pem') })))).toThrow(/^config key mail\.smtp\.caFile: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a sender that is not one address, and half a login', () => {
    for (const from of ['', 'Countersign', 'a@example.com, b@example.com', 'Countersign <no-reply>']) {
      expect(() => smtpMailGateway(mailConfig({ ...plainSmtp(25), from })), from).toThrow(/^config key mail\.from: must be one address/);
    }
    expect(() => smtpMailGateway(mailConfig(plainSmtp(25, { user: 'mailer' })))).toThrow(/^config key mail\.smtp\.password: required when mail\.smtp\.user is set/);
    expect(() => smtpMailGateway(mailConfig(plainSmtp(25, { password: 'x' })))).toThrow(/^config key mail\.smtp\.user: required/);
  });

  it('stops start-up with config_invalid before the database is opened', async () => {
    const config = loadConfig({ overrides: { security: { masterKey: TEST_MASTER_KEY }, database: { url: 'postgres://127.0.0.1:1/never' }, mail: plainSmtp(25, { host: 'mail.example.com' }) } });
    await expect(buildRuntime(config, { log: pino({ level: 'silent' }) })).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('mail.smtp.security') });
  });

  it('keeps the outbox by default, and rejects unknown keys', () => {
    expect(mailConfig({})).toEqual({
      gateway: 'outbox',
      from: 'Countersign <no-reply@localhost>',
      smtp: { host: '127.0.0.1', port: 587, security: 'starttls', user: '', password: '', caFile: '' },
    });
    expect(() => mailConfig({ smtp: { starttls: true } })).toThrow('config key mail.smtp.starttls: unknown key');
    expect(() => mailConfig({ smtp: { security: 'ssl' } })).toThrow(/config key mail\.smtp\.security/);
  });
});

describe.each(DIALECTS)('e-mail on %s', (dialect) => {
  let t: TestRuntime;
  let server: Awaited<ReturnType<typeof smtpServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await t.runtime.close();
    await t.dispose();
  });
  const row = (id: string) => t.runtime.storage.db.selectFrom('mail_log').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('keeps an outbox e-mail with its text, for the outbox view', async () => {
    t = await createTestRuntime(dialect);
    expect(t.runtime.mail.gatewayName).toBe('outbox');
    const delivery = await t.runtime.storage.transact((trx) => t.runtime.mail.prepare(trx, { ...resetMail, userId: 'u1' }));
    expect(await delivery.send()).toEqual({ status: 'stored', providerId: null });
    const view = await t.runtime.mail.get(delivery.id);
    expect(view).toMatchObject({ id: delivery.id, user_id: 'u1', gateway: 'outbox', to: 'kim@example.com', subject: 'Reset your password', body: resetMail.text, status: 'stored', provider_id: null, error: null });
    expect(view.created_at).toBe(new Date(t.clock.now()).toISOString());
    t.clock.advance(1000);
    const second = await t.runtime.storage.transact((trx) => t.runtime.mail.prepare(trx, { ...resetMail, to: 'lee@example.com' }));
    expect((await t.runtime.mail.list({ gateway: 'outbox', limit: 10 })).map((each) => each.id)).toEqual([second.id, delivery.id]);
    expect((await t.runtime.mail.list({ userId: 'u1', limit: 10 })).map((each) => each.id)).toEqual([delivery.id]);
    expect((await t.runtime.mail.list({ gateway: 'smtp', limit: 10 }))).toEqual([]);
    await expect(t.runtime.mail.list({ limit: 0 })).rejects.toThrow('limit: must be a whole number from 1 to 1000');
    await expect(t.runtime.mail.get('nope')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('logs nothing when the transaction that wrote the e-mail rolls back, and refuses a bad address or subject', async () => {
    t = await createTestRuntime(dialect);
    await expect(
      t.runtime.storage.transact(async (trx) => {
        await t.runtime.mail.prepare(trx, resetMail);
        throw new Error('the reset step failed');
      }),
    ).rejects.toThrow('the reset step failed');
    expect(await t.runtime.mail.list({ limit: 10 })).toEqual([]);
    await expect(t.runtime.mail.prepare(t.runtime.storage.db, { ...resetMail, to: 'kim@example.com, eve@example.com' })).rejects.toMatchObject({ code: 'validation_failed', details: { field: 'to' } });
    await expect(t.runtime.mail.prepare(t.runtime.storage.db, { ...resetMail, subject: 'Reset\r\nBcc: eve@example.com' })).rejects.toMatchObject({ code: 'validation_failed', details: { field: 'subject' } });
    expect(await t.runtime.mail.list({ limit: 10 })).toEqual([]);
  });

  it('hands an e-mail to a real SMTP server after the commit and logs it sent, with the Message-ID and without the text', async () => {
    server = await smtpServer();
    t = await createTestRuntime(dialect, { mail: plainSmtp(server.port) });
    const delivery = await t.runtime.storage.transact((trx) => t.runtime.mail.prepare(trx, { ...resetMail, userId: 'u1' }));
    // Written in the transaction, sent only when the caller says so.
    expect(server.received).toEqual([]);
    expect(await row(delivery.id)).toMatchObject({ status: 'sending', body: null, gateway: 'smtp', to_address: 'kim@example.com' });
    t.clock.advance(2000);
    const result = await delivery.send();
    expect(result.status).toBe('sent');
    expect(result.providerId).toMatch(/^<.+@countersign\.test>$/);
    expect(server.received).toHaveLength(1);
    const message = server.received[0]!;
    expect(message).toMatchObject({ envelopeFrom: 'no-reply@countersign.test', envelopeTo: ['kim@example.com'], user: undefined });
    expect(message.headers).toMatchObject({
      from: 'Countersign <no-reply@countersign.test>',
      to: 'kim@example.com',
      subject: 'Reset your password',
      'message-id': result.providerId,
      'auto-submitted': 'auto-generated',
    });
    expect(message.headers['content-type']).toMatch(/^text\/plain; charset=utf-8/);
    expect(message.body).toBe(resetMail.text);
    expect(await row(delivery.id)).toMatchObject({ status: 'sent', provider_id: result.providerId, error: null, body: null, created_at: t.clock.now() - 2000, updated_at: t.clock.now() });
    expect(await t.runtime.mail.get(delivery.id)).toMatchObject({ status: 'sent', body: null, provider_id: result.providerId });
  });

  it('logs in with the configured user and password, and keeps the password out of the log when the login is refused', async () => {
    server = await smtpServer({
      disabledCommands: ['STARTTLS'],
      authOptional: false,
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === 'mailer' && auth.password === 'correct horse') callback(null, { user: 'mailer' });
        else callback(new Error(`no such password: ${auth.password ?? ''}`));
      },
    });
    t = await createTestRuntime(dialect, { mail: plainSmtp(server.port, { user: 'mailer', password: 'correct horse' }) });
    const sent = await (await t.runtime.mail.prepare(t.runtime.storage.db, resetMail)).send();
    expect(sent.status).toBe('sent');
    expect(server.received.map((each) => each.user)).toEqual(['mailer']);

    const wrong = smtpMailGateway(mailConfig(plainSmtp(server.port, { user: 'mailer', password: 'battery staple' })));
    const refused = await wrong.send({ to: 'kim@example.com', subject: 's', text: 't', reference: 'r1' });
    await wrong.close?.();
    expect(refused).toMatchObject({ status: 'failed', providerId: null });
    expect(refused.error).toMatch(/^EAUTH: .*535.*no such password: \[redacted\]/);
    expect(refused.error).not.toContain('battery');
    expect(server.received).toHaveLength(1);
  });

  it('logs a refused recipient as failed, with the reason, without throwing', async () => {
    server = await smtpServer({
      onRcptTo(address, _session, callback) {
        if (address.address.endsWith('@example.com')) callback(Object.assign(new Error('5.1.1 no such mailbox here'), { responseCode: 550 }));
        else callback();
      },
    });
    t = await createTestRuntime(dialect, { mail: plainSmtp(server.port) });
    const delivery = await t.runtime.mail.prepare(t.runtime.storage.db, resetMail);
    const result = await delivery.send();
    expect(result).toMatchObject({ status: 'failed', providerId: null });
    expect(result.error).toMatch(/^EENVELOPE: .*550 5\.1\.1 no such mailbox here/);
    expect(await row(delivery.id)).toMatchObject({ status: 'failed', provider_id: null, error: result.error, body: null });
    expect(server.received).toEqual([]);
  });

  it('logs an unreachable server as failed at once, without hanging', async () => {
    t = await createTestRuntime(dialect, { mail: plainSmtp(await closedPort()) });
    const delivery = await t.runtime.mail.prepare(t.runtime.storage.db, resetMail);
    const started = Date.now();
    const result = await delivery.send();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ status: 'failed', providerId: null });
    expect(result.error).toMatch(/ECONNREFUSED/);
    expect(await row(delivery.id)).toMatchObject({ status: 'failed', error: result.error });
  });

  it('records a gateway that throws as a refusal', async () => {
    t = await createTestRuntime(dialect);
    const storage = await createTestStorage(dialect);
    let closed = 0;
    const broken: MailGateway = {
      name: 'broken',
      keepsBody: false,
      send: () => Promise.reject(new Error('the relay fell over')),
      close: async () => {
        closed += 1;
      },
    };
    const runtime = await buildRuntime(t.runtime.config, { clock: t.clock, log: pino({ level: 'silent' }), storage: storage.storage, mailGateway: broken });
    try {
      const delivery = await runtime.mail.prepare(runtime.storage.db, resetMail);
      expect(await delivery.send()).toEqual({ status: 'failed', providerId: null, error: 'the relay fell over' });
      expect(await runtime.mail.get(delivery.id)).toMatchObject({ gateway: 'broken', status: 'failed', error: 'the relay fell over', body: null });
      await runtime.close();
      // The runtime lets go of its gateway when it closes.
      expect(closed).toBe(1);
    } finally {
      await storage.dispose();
    }
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!hasOpenssl).each(DIALECTS)('e-mail over TLS on %s', (dialect) => {
  let certificate: TestCertificate;
  let dir: string;
  let key: string;
  let cert: string;
  let t: TestRuntime;
  let server: Awaited<ReturnType<typeof smtpServer>>;

  beforeAll(() => {
    certificate = selfSignedCertificate('countersign-mail-tls-');
    ({ key, cert } = certificate);
    dir = dirname(certificate.certFile);
  });
  afterAll(() => certificate.dispose());
  afterEach(async () => {
    await server.close();
    await t.runtime.close();
    await t.dispose();
  });

  const tlsSmtp = (port: number, security: 'starttls' | 'tls', caFile: string) => ({ ...plainSmtp(port), smtp: { host: '127.0.0.1', port, security, caFile } });
  const sendOne = async () => (await t.runtime.mail.prepare(t.runtime.storage.db, resetMail)).send();

  it('upgrades with STARTTLS to a server whose certificate the CA file vouches for', async () => {
    server = await smtpServer({ key, cert, disabledCommands: ['AUTH'] });
    t = await createTestRuntime(dialect, { mail: tlsSmtp(server.port, 'starttls', join(dir, 'cert.pem')) });
    expect(await sendOne()).toMatchObject({ status: 'sent' });
    expect(server.received.map((each) => each.headers.subject)).toEqual(['Reset your password']);
  });

  it('connects with implicit TLS and logs in over it', async () => {
    server = await smtpServer({ secure: true, key, cert, disabledCommands: [], authOptional: false, onAuth: (auth, _session, callback) => callback(null, { user: auth.username }) });
    t = await createTestRuntime(dialect, { mail: { ...tlsSmtp(server.port, 'tls', join(dir, 'cert.pem')), smtp: { host: '127.0.0.1', port: server.port, security: 'tls', caFile: join(dir, 'cert.pem'), user: 'mailer', password: 'pw' } } });
    expect(await sendOne()).toMatchObject({ status: 'sent' });
    expect(server.received.map((each) => each.user)).toEqual(['mailer']);
  });

  it('refuses to send in clear when the server offers no STARTTLS', async () => {
    server = await smtpServer();
    t = await createTestRuntime(dialect, { mail: tlsSmtp(server.port, 'starttls', join(dir, 'cert.pem')) });
    const result = await sendOne();
    expect(result).toMatchObject({ status: 'failed' });
    expect(result.error).toMatch(/STARTTLS/);
    expect(server.received).toEqual([]);
  });

  it('refuses a certificate that the system CAs do not vouch for', async () => {
    server = await smtpServer({ secure: true, key, cert });
    t = await createTestRuntime(dialect, { mail: { ...plainSmtp(server.port), smtp: { host: '127.0.0.1', port: server.port, security: 'tls' } } });
    const result = await sendOne();
    expect(result).toMatchObject({ status: 'failed' });
    expect(result.error).toMatch(/self[- ]signed|unable to verify/i);
    expect(server.received).toEqual([]);
  });
});
