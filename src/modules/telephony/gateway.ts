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

/** A call to place. */
export interface OutboundCall {
  /** The number in E.164. */
  to: string;
  /** Keys to dial once the call connects (an extension): digits, `*`, `#`, and `,` for a pause. */
  extension: string | null;
  /** Our id of the call (telephony_log.id): every webhook about the call carries it. */
  reference: string;
  /** Seconds to let it ring before it counts as not answered. */
  ringSeconds: number;
}

/** What a gateway said about a call it was asked to place. */
export interface CallResult extends SendResult {
  /** The carrier refused the number itself (not a valid phone number): SPEC.md §2 FAILED_INVALID_PHONENUMBER. */
  invalidNumber?: boolean;
}

/**
 * What a call says and does next, as the voice method decides it: say a
 * text, then either wait for keys (ended by `#`, or by `timeoutSeconds` of
 * silence) or hang up. Carriers render it in their own language (TwiML for
 * Twilio); the outbox shows it.
 */
export interface CallScript {
  say: string;
  /** BCP 47 language of the text, for the carrier's speech. */
  language: string;
  gather?: { timeoutSeconds: number };
}

/**
 * What happened on a call, in the carrier's words translated to these:
 * - `answered`: picked up; by a person, an answering machine, or a fax/modem;
 * - `keys`: the keys pressed at a prompt: `digits` before the `#`, and
 *   `finished` true when `#` ended the entry, false when silence did;
 * - `ended`: the call is over; `completed` after an answer, otherwise why it
 *   never was (busy, no answer, failed, canceled).
 */
export type CallEvent =
  | { type: 'answered'; by: 'human' | 'machine' | 'fax' }
  | { type: 'keys'; digits: string; finished: boolean }
  | { type: 'ended'; status: 'completed' | 'busy' | 'no_answer' | 'failed' | 'canceled' };

/** A gateway that can also place voice calls. */
export interface CallingGateway extends TelephonyGateway {
  placeCall(call: OutboundCall): Promise<CallResult>;
}

export const canCall = (gateway: TelephonyGateway): gateway is CallingGateway => typeof (gateway as Partial<CallingGateway>).placeCall === 'function';
