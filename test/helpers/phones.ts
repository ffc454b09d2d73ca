import type { Runtime } from '../../src/main.js';
import { playOutboxCall, type OutboxCallAction } from '../../src/modules/telephony/outbox.js';
import type { startFakeTwilio } from './fake-twilio.js';

/** What a call said in answer to something done on the phone. */
export interface PhoneTurn {
  says: string | null;
  waitsForKeys: boolean;
}

/**
 * The user's phone in a voice test, whichever gateway placed the call: the
 * outbox (played in process) or the fake Twilio (over HTTP, through the
 * webhooks). Actions are those of `countersign outbox call`.
 */
export interface Phone {
  /** How many calls have been placed so far. */
  calls(): Promise<number>;
  /** The number the newest call went to. */
  lastNumber(): Promise<string>;
  play(action: OutboxCallAction, keys?: string): Promise<PhoneTurn>;
}

export function outboxPhone(runtime: Runtime): Phone {
  const outboxCalls = async () => (await runtime.telephony.list({ gateway: 'outbox', limit: 1000 })).items.filter((item) => item.kind === 'call');
  return {
    calls: async () => (await outboxCalls()).length,
    lastNumber: async () => (await outboxCalls())[0]!.to,
    async play(action, keys) {
      const turn = await playOutboxCall(runtime.telephony, runtime.engine, (await outboxCalls())[0]!.id, action, keys);
      return { says: turn.says, waitsForKeys: turn.waits_for_keys };
    },
  };
}

/** The carrier's end of each action on Twilio: an answer webhook, keys to the <Gather>, or a status callback. */
export function twilioPhone(twilio: Awaited<ReturnType<typeof startFakeTwilio>>): Phone {
  const ends: Partial<Record<OutboxCallAction, string>> = { hangup: 'completed', busy: 'busy', no_answer: 'no-answer', fail: 'failed' };
  const answeredBy: Partial<Record<OutboxCallAction, string>> = { answer: 'human', voicemail: 'machine_start', fax: 'fax' };
  return {
    calls: async () => twilio.calls.length,
    lastNumber: async () => twilio.calls.at(-1)!.params.To!,
    async play(action, keys) {
      const call = twilio.calls.at(-1)!;
      const by = answeredBy[action];
      const end = ends[action];
      if (end) {
        const response = await twilio.callStatus(call, end);
        if (response.status !== 204) throw new Error(`status callback refused: ${response.status} ${await response.text()}`);
        return { says: null, waitsForKeys: false };
      }
      const turn = by ? await twilio.answer(call, by) : await twilio.press(call, action === 'silence' ? '' : keys ?? '');
      if (turn.status !== 200) throw new Error(`webhook refused: ${turn.status} ${turn.twiml}`);
      return { says: turn.says, waitsForKeys: turn.gather !== null };
    },
  };
}
