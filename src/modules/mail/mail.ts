import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import { orderedId } from '../../shared/ids.js';
import type { Db, Executor } from '../../storage/database.js';
import { mailLogRepository, type MailLogRow } from '../../storage/repositories/mail-log.js';
import type { MailGateway, MailResult } from './gateway.js';

/** A mail log entry as the API and CLI show it. */
export interface MailLogView {
  id: string;
  user_id: string | null;
  gateway: string;
  to: string;
  subject: string;
  /** The text, kept by the outbox gateway only. */
  body: string | null;
  /** `sending` until the gateway answered, then `stored` (outbox), `sent` or `failed`. */
  status: string;
  /** The SMTP Message-ID, when the mail server took the message. */
  provider_id: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** An e-mail written to the mail log, to hand to the gateway once the caller's transaction has committed. */
export interface MailDelivery {
  /** The mail log entry. */
  id: string;
  /** Sends it and records the gateway's answer. Never throws: a refusal is `status: 'failed'`. */
  send(): Promise<MailResult>;
}

const toView = (row: MailLogRow): MailLogView => ({
  id: row.id,
  user_id: row.user_id,
  gateway: row.gateway,
  to: row.to_address,
  subject: row.subject,
  body: row.body,
  status: row.status,
  provider_id: row.provider_id,
  error: row.error,
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

/** The longest address SMTP carries (RFC 5321 §4.5.3.1.3: a path of 256 octets, brackets included). */
const MAX_ADDRESS_LENGTH = 254;
/** RFC 5321 §4.5.3.1.1. */
const MAX_LOCAL_PART_LENGTH = 64;
/** A dot-atom local part (RFC 5322 §3.2.3): atext characters, dots only between them. */
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
/** A domain label: letters (internationalised ones too) and digits, hyphens inside. */
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/**
 * The address in `text` if it is a plausible single e-mail address, else
 * null: one `@`, a dot-atom local part of at most 64 characters (no quoted
 * local parts, comments or spaces), and a domain with at least one dot, or
 * `localhost`. Surrounding spaces are trimmed and the domain is lower-cased
 * (domains are case-insensitive, local parts are not). At most 254 characters.
 * It does not say that the mailbox exists: only sending to it does.
 */
export function validateEmailAddress(text: string): string | null {
  const trimmed = text.trim();
  const at = trimmed.indexOf('@');
  if (at <= 0 || at !== trimmed.lastIndexOf('@')) return null;
  const local = trimmed.slice(0, at);
  const domain = trimmed.slice(at + 1).toLowerCase();
  const address = `${local}@${domain}`;
  if (address.length > MAX_ADDRESS_LENGTH || local.length > MAX_LOCAL_PART_LENGTH || !LOCAL_PART.test(local)) return null;
  const labels = domain.split('.');
  if (!labels.every((label) => LABEL.test(label))) return null;
  if (labels.length < 2 && domain !== 'localhost') return null;
  return address;
}

/**
 * Sends e-mail through the configured gateway and writes each to the mail
 * log (SPEC.md §6, self-service password reset): the telephony module's
 * counterpart for mailboxes.
 */
export class Mail {
  constructor(private readonly deps: { db: Db; clock: Clock; gateway: MailGateway }) {}

  get gatewayName(): string {
    return this.deps.gateway.name;
  }

  /**
   * Logs an e-mail with `db` (the caller's transaction) and returns its
   * delivery, which the caller sends once that transaction has committed: a
   * mail server's round trip inside the transaction would hold every other
   * writer (on SQLite, the one writer), and a rolled-back step must not have
   * mailed anyone. The text is kept only by a gateway that keeps texts (the
   * outbox).
   */
  async prepare(db: Executor, message: { userId: string | null; to: string; subject: string; text: string }): Promise<MailDelivery> {
    const to = validateEmailAddress(message.to);
    assert(to !== null, 'validation_failed', 'to: must be one e-mail address, such as kim@example.com', { field: 'to' });
    // A line break in a subject would start a header of the sender's choosing.
    assert(!/[\r\n]/.test(message.subject), 'validation_failed', 'subject: must be one line', { field: 'subject' });
    const gateway = this.deps.gateway;
    const id = orderedId();
    const now = this.deps.clock.now();
    await mailLogRepository.insert(db, {
      id,
      user_id: message.userId,
      to_address: to,
      subject: message.subject,
      body: gateway.keepsBody ? message.text : null,
      gateway: gateway.name,
      // The outbox's answer is known before it is asked; any other gateway's comes after the commit.
      status: gateway.name === 'outbox' ? 'stored' : 'sending',
      provider_id: null,
      error: null,
      created_at: now,
      updated_at: now,
    });
    return { id, send: () => this.deliver(id, { to, subject: message.subject, text: message.text, reference: id }) };
  }

  /**
   * Hands a logged e-mail to the gateway and records its answer: the
   * provider id, the status, or why it failed. A gateway that throws counts
   * as a refusal; a log entry deleted meanwhile (the user was erased) is not
   * written back.
   */
  private async deliver(id: string, mail: Parameters<MailGateway['send']>[0]): Promise<MailResult> {
    let result: MailResult;
    try {
      result = await this.deps.gateway.send(mail);
    } catch (error) {
      result = { status: 'failed', providerId: null, error: error instanceof Error ? error.message : String(error) };
    }
    try {
      await mailLogRepository.update(this.deps.db, id, { status: result.status, provider_id: result.providerId, error: result.error ?? null, updated_at: this.deps.clock.now() });
    } catch {
      // The message has gone (or failed) all the same; the caller acts on the gateway's answer.
    }
    return result;
  }

  /** One mail log entry. */
  async get(id: string): Promise<MailLogView> {
    const row = await mailLogRepository.findById(this.deps.db, id);
    if (!row) throw appError('not_found', `mail log entry ${id} does not exist`);
    return toView(row);
  }

  /** The mail log, newest first: everything, one gateway's (the outbox), or one user's. */
  async list(options: { gateway?: string; userId?: string; limit?: number } = {}): Promise<MailLogView[]> {
    const limit = options.limit ?? 50;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be a whole number from 1 to 1000', { field: 'limit' });
    const rows = await mailLogRepository.list(this.deps.db, { gateway: options.gateway, userId: options.userId, limit });
    return rows.map(toView);
  }
}
