import { assert } from '../../shared/errors.js';
import type { CallEvent, CallingGateway, CallScript } from './gateway.js';
import type { Telephony, TelephonyLogView } from './telephony.js';

/**
 * The outbox: nothing leaves the server. Every message is kept in the
 * telephony log with its text, for `countersign outbox` and
 * `GET /admin/v1/outbox`, so a fresh install can try every flow without a
 * carrier. Not for production: anyone who can read the outbox can read the
 * one-time codes in it.
 */
export const outboxGateway: CallingGateway = {
  name: 'outbox',
  keepsBody: true,
  async sendSms() {
    return { status: 'stored', providerId: null };
  },
  /** A call waits in the outbox until someone plays the phone's part (`countersign outbox call`). */
  async placeCall() {
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

/** What a tester can do on a call waiting in the outbox, playing the phone's part. */
export const OUTBOX_CALL_ACTIONS = ['answer', 'voicemail', 'fax', 'keys', 'silence', 'hangup', 'busy', 'no_answer', 'fail'] as const;
export type OutboxCallAction = (typeof OUTBOX_CALL_ACTIONS)[number];

/** What answers a call's events: the engine's `callEvent`. */
interface CallTaker {
  callEvent(callId: string, event: CallEvent): Promise<CallScript | null>;
}

/** What the call did in answer: what it said, and whether it now waits for keys. */
export interface OutboxCallTurn {
  call: TelephonyLogView;
  says: string | null;
  waits_for_keys: boolean;
}

/** Keys as a phone sends them: the digits up to `#`, and whether `#` ended them (else silence did). */
function keyEntry(keys: string): { digits: string; finished: boolean } {
  const hash = keys.indexOf('#');
  return hash === -1 ? { digits: keys, finished: false } : { digits: keys.slice(0, hash), finished: true };
}

function outboxEvent(action: OutboxCallAction, keys: string | undefined): CallEvent {
  switch (action) {
    case 'answer':
      return { type: 'answered', by: 'human' };
    case 'voicemail':
      return { type: 'answered', by: 'machine' };
    case 'fax':
      return { type: 'answered', by: 'fax' };
    case 'keys':
      assert(keys !== undefined && /^[0-9*#]{1,32}$/.test(keys), 'validation_failed', 'keys: give 1 to 32 of 0-9, * and # (a # ends the entry; without one, the entry times out)', { field: 'keys' });
      return { type: 'keys', ...keyEntry(keys) };
    case 'silence':
      return { type: 'keys', digits: '', finished: false };
    case 'hangup':
      return { type: 'ended', status: 'completed' };
    case 'busy':
      return { type: 'ended', status: 'busy' };
    case 'no_answer':
      return { type: 'ended', status: 'no_answer' };
    case 'fail':
      return { type: 'ended', status: 'failed' };
  }
}

/** The status a call's log entry takes after an action, as a carrier would report it. */
const STATUS_AFTER: Partial<Record<OutboxCallAction, string>> = {
  answer: 'in-progress',
  voicemail: 'in-progress',
  fax: 'in-progress',
  hangup: 'completed',
  busy: 'busy',
  no_answer: 'no-answer',
  fail: 'failed',
};

/**
 * Plays the phone's part on a call waiting in the outbox (no phone rings):
 * answer it (as a person, a voicemail box or a fax line), press keys, stay
 * silent, hang up, or let it fail (busy, no answer, failed). The call's
 * challenge moves on exactly as with a carrier's webhooks.
 */
export async function playOutboxCall(telephony: Telephony, engine: CallTaker, callId: string, action: OutboxCallAction, keys?: string): Promise<OutboxCallTurn> {
  assert(telephony.gatewayName === 'outbox', 'conflict', 'calls can be played only with telephony.gateway = outbox');
  assert(OUTBOX_CALL_ACTIONS.includes(action), 'validation_failed', `action: must be one of ${OUTBOX_CALL_ACTIONS.join(', ')}`, { field: 'action' });
  assert(action === 'keys' || keys === undefined, 'validation_failed', 'keys: only with the keys action', { field: 'keys' });
  const event = outboxEvent(action, keys);
  const call = await telephony.findCall(callId, 'outbox', null);
  const status = STATUS_AFTER[action];
  if (status) await telephony.recordStatus(call.id, { gateway: 'outbox', providerId: null, status });
  const script = await engine.callEvent(call.id, event);
  // The server said its last words and hung up (keys ended the call, or it serves no challenge any more):
  // the call is over, as a carrier would report it once it hangs up.
  if (!status && !script?.gather) await telephony.recordStatus(call.id, { gateway: 'outbox', providerId: null, status: 'completed' });
  return { call: await telephony.get(call.id), says: script?.say || null, waits_for_keys: Boolean(script?.gather) };
}
