/** An e-mail to send: one recipient, a subject and a plain-text body. */
export interface OutboundMail {
  /** The recipient's address, as `validateEmailAddress` normalised it. */
  to: string;
  subject: string;
  /** The body, plain text only: no HTML part, no attachments. */
  text: string;
  /** Our id of the message (mail_log.id). */
  reference: string;
}

/** What a gateway said about an e-mail it was handed. */
export interface MailResult {
  /** `sent`: the mail server accepted it; `stored`: kept in the outbox; `failed`: refused, it will not arrive. */
  status: 'sent' | 'stored' | 'failed';
  /** The message's id at the provider (the Message-ID of an SMTP message), when there is one. */
  providerId: string | null;
  /** Why the message failed, for the mail log (never shown to the user, never holding credentials). */
  error?: string;
}

/**
 * A way to reach mailboxes, the telephony gateway's counterpart. The outbox
 * keeps messages for an administrator to read; the SMTP gateway hands them to
 * a mail server. A gateway never throws for a refused message: it answers
 * `failed` with the reason.
 */
export interface MailGateway {
  /** Stable name, stored with every mail log entry (`outbox`, `smtp`). */
  readonly name: string;
  /** True for gateways that keep the message text (so it can be shown); a real mail server's log never holds it. */
  readonly keepsBody: boolean;
  send(mail: OutboundMail): Promise<MailResult>;
  /** Lets go of connections and timers; the runtime calls it once, at shutdown. */
  close?(): Promise<void>;
}
