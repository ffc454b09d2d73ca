import { isIPv4 } from 'node:net';
import { createTransport } from 'nodemailer';
import type { Config } from '../../config/schema.js';
import { appError } from '../../shared/errors.js';
import { readPemCertificate } from '../../shared/pem.js';
import type { MailGateway, MailResult, OutboundMail } from './gateway.js';
import { validateEmailAddress } from './mail.js';

/** How long to wait for the TCP (and, with `tls`, TLS) connection, for the server's greeting, and for DNS. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Silence from the server, once connected, after which the message counts as not sent (nodemailer's own default is ten minutes). */
const SOCKET_TIMEOUT_MS = 30_000;
/** The longest error kept in the mail log. */
const MAX_ERROR_LENGTH = 500;

const configInvalid = (key: string, message: string) => appError('config_invalid', `config key ${key}: ${message}`);

/** 127.0.0.0/8, ::1 and `localhost`: the only hosts plain SMTP may go to (nothing crosses a network in clear). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || (isIPv4(bare) && bare.startsWith('127.'));
}

/** Characters a display name may not hold unquoted: they would make the header mean something else (RFC 5322 specials). */
const UNQUOTED_NAME = /^[^"(),:;<>@[\\\]]*$/;
const QUOTED_NAME = /^"([^"\\]*)"$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The sender of `mail.from`, as a display name and an address: either
 * `no-reply@example.com` or `Name <no-reply@example.com>` (the name may be
 * quoted). Null when it is anything else, such as two addresses or a name
 * that would break the header.
 */
export function parseFromAddress(text: string): { name: string; address: string } | null {
  if (CONTROL.test(text)) return null;
  const angle = /^\s*(.*?)\s*<([^<>]*)>\s*$/.exec(text);
  if (!angle) {
    const address = validateEmailAddress(text);
    return address ? { name: '', address } : null;
  }
  const [, rawName = '', rawAddress = ''] = angle;
  const quoted = QUOTED_NAME.exec(rawName);
  if (!quoted && !UNQUOTED_NAME.test(rawName)) return null;
  const address = validateEmailAddress(rawAddress);
  return address ? { name: quoted ? quoted[1]! : rawName, address } : null;
}


/** The configuration's mistakes that would only show at the first e-mail, found at start-up instead. */
function checkSmtpConfig(config: Config['mail']): { from: { name: string; address: string }; ca: string | undefined } {
  const smtp = config.smtp;
  const from = parseFromAddress(config.from);
  if (!from) throw configInvalid('mail.from', 'must be one address, such as no-reply@example.com or "Countersign <no-reply@example.com>", when mail.gateway is smtp');
  if (!smtp.host.trim()) throw configInvalid('mail.smtp.host', 'required when mail.gateway is smtp');
  if (smtp.security === 'none' && !isLoopbackHost(smtp.host)) {
    throw configInvalid('mail.smtp.security', `none (plain SMTP) is allowed only to a loopback host (127.0.0.1, ::1, localhost), not ${smtp.host}: use starttls or tls`);
  }
  if (smtp.user && !smtp.password) throw configInvalid('mail.smtp.password', 'required when mail.smtp.user is set');
  if (smtp.password && !smtp.user) throw configInvalid('mail.smtp.user', 'required when mail.smtp.password is set');
  return { from, ca: smtp.caFile ? readPemCertificate(smtp.caFile, 'mail.smtp.caFile') : undefined };
}

/** Base64 of AUTH PLAIN and LOGIN: a server that echoes the command must not put the password into the log. */
function secretsOf(user: string, password: string): string[] {
  if (!password) return [];
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return [password, b64(password), b64(`\u0000${user}\u0000${password}`), b64(`${user}\u0000${password}`)];
}

/** A transport error as the mail log keeps it: nodemailer's code and message, without the credentials, on one line. */
function describeError(error: unknown, secrets: string[]): string {
  const code = (error as { code?: unknown } | null)?.code;
  let text = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && !text.startsWith(code)) text = `${code}: ${text}`;
  for (const secret of secrets) text = text.split(secret).join('[redacted]');
  // One line in the log, whatever the server said.
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, MAX_ERROR_LENGTH);
}

/**
 * Hands e-mail to an SMTP server (a relay or the organisation's mail server)
 * with nodemailer, one connection per message (password resets are rare).
 * `mail.smtp.security`: `tls` connects with TLS (port 465), `starttls`
 * requires the STARTTLS upgrade (port 587) and fails rather than send in
 * clear, `none` sends in clear and is allowed only to a loopback host. The
 * server's certificate is always verified, against `caFile` when set. Plain
 * text only; nothing is read from files or URLs while composing.
 * Configuration mistakes stop start-up (config_invalid naming the key).
 */
export function smtpMailGateway(config: Config['mail']): MailGateway {
  const smtp = config.smtp;
  const { from, ca } = checkSmtpConfig(config);
  const transport = createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    auth: smtp.user ? { user: smtp.user, pass: smtp.password } : undefined,
    tls: { ca, minVersion: 'TLSv1.2', rejectUnauthorized: true },
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: CONNECT_TIMEOUT_MS,
    dnsTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    // No protocol log: it would hold the AUTH exchange and the message.
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const secrets = secretsOf(smtp.user, smtp.password);
  return {
    name: 'smtp',
    keepsBody: false,
    async send(mail: OutboundMail): Promise<MailResult> {
      try {
        const info = await transport.sendMail({
          from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          // RFC 3834: an automatic message, so vacation responders and the like do not answer it.
          headers: { 'Auto-Submitted': 'auto-generated' },
        });
        if (info.rejected.length > 0) return { status: 'failed', providerId: null, error: describeError(`recipient refused: ${info.response}`, secrets) };
        return { status: 'sent', providerId: info.messageId || null };
      } catch (error) {
        return { status: 'failed', providerId: null, error: describeError(error, secrets) };
      }
    },
    async close() {
      transport.close();
    },
  };
}
