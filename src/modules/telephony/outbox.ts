import { assert } from '../../shared/errors.js';
import type { TelephonyGateway } from './gateway.js';
import type { Telephony } from './telephony.js';

/**
 * The outbox: nothing leaves the server. Every message is kept in the
 * telephony log with its text, for `countersign outbox` and
 * `GET /admin/v1/outbox`, so a fresh install can try every flow without a
 * carrier. Not for production: anyone who can read the outbox can read the
 * one-time codes in it.
 */
export const outboxGateway: TelephonyGateway = {
  name: 'outbox',
  keepsBody: true,
  async sendSms() {
    return { status: 'stored', providerId: null };
  },
};

/** What answers a user's text: the engine's `answerReply`. */
interface ReplyTaker<Answer> {
  answerReply(from: string, text: string): Promise<Answer | null>;
}

/**
 * A reply "from" a phone while the outbox is the gateway (no phone can send
 * one): logged as an inbound message and handed to the engine like a carrier's
 * webhook would. Refused (conflict) with any other gateway.
 */
export async function replyThroughOutbox<Answer>(telephony: Telephony, engine: ReplyTaker<Answer>, from: string, text: string): Promise<Answer | null> {
  assert(telephony.gatewayName === 'outbox', 'conflict', 'replies can be simulated only with telephony.gateway = outbox');
  await telephony.recordInbound({ gateway: 'outbox', from, body: text, providerId: null });
  return engine.answerReply(from, text);
}
