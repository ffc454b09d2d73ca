/** A text message to send: the number in E.164 (+ and digits) and the text. */
export interface OutboundSms {
  to: string;
  body: string;
  /** Our id of the message (telephony_log.id): carriers echo it in status callbacks. */
  reference: string;
}

/** What a gateway said about a message it was handed. */
export interface SendResult {
  /** `failed`: the message was refused and will not arrive. */
  status: 'queued' | 'sent' | 'stored' | 'failed';
  /** The carrier's id of the message, when it gave one. */
  providerId: string | null;
  /** The price, as the carrier wrote it, when it gave one. */
  cost?: string | null;
  /** Why the message failed, for the telephony log (never shown to the user). */
  error?: string;
}

/**
 * A way to reach phones. The outbox keeps messages for an administrator to
 * read; the HTTP and carrier gateways hand them to a provider. A gateway never
 * throws for a refused message: it answers `failed` with the reason.
 */
export interface TelephonyGateway {
  /** Stable name, stored with every log entry (`outbox`, `http`, `twilio`). */
  readonly name: string;
  /** True for gateways that keep the message text (so it can be shown); a real carrier's log never holds it. */
  readonly keepsBody: boolean;
  sendSms(message: OutboundSms): Promise<SendResult>;
}
