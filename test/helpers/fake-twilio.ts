import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../../src/modules/telephony/twilio.js';
import { startFakeCarrier } from './fake-carrier.js';

export const TWILIO_SID = `AC${'0123456789abcdef'.repeat(2)}`;
export const TWILIO_TOKEN = 'test-auth-token-0123456789';

export interface SentMessage {
  sid: string;
  params: Record<string, string>;
  authorization: string | undefined;
}

/** A call placed through the Calls API, and where it stands. */
export interface PlacedCall {
  sid: string;
  params: Record<string, string>;
  /** Every StatusCallbackEvent asked for (the parameter repeats). */
  statusEvents: string[];
  /** The action of the <Gather> the call is waiting in, if any. */
  gather: string | null;
  over: boolean;
}

/** What a call did with the TwiML it was given. */
export interface CallTurn {
  status: number;
  says: string | null;
  /** The <Gather> it now waits in: its attributes. */
  gather: Record<string, string> | null;
  hangup: boolean;
  twiml: string;
}

const unescapeXml = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

function attributes(tag: string): Record<string, string> {
  return Object.fromEntries([...tag.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, unescapeXml(match[2]!)]));
}

/** Reads the TwiML a webhook answered: what it says, the <Gather> it waits in, whether it hangs up. */
export function readTwiml(status: number, twiml: string): CallTurn {
  const say = /<Say[^>]*>([\s\S]*?)<\/Say>/.exec(twiml);
  const gather = /<Gather\b[^>]*>/.exec(twiml);
  return { status, says: say ? unescapeXml(say[1]!) : null, gather: gather ? attributes(gather[0]) : null, hangup: /<Hangup\s*\/>/.test(twiml), twiml };
}

/**
 * A local stand-in for Twilio's Messages and Calls APIs on 127.0.0.1: it takes
 * form-encoded requests with HTTP Basic auth as Twilio does and answers with
 * the resource. For messages it posts signed status callbacks when a test says
 * so. For calls it plays the phone network: a test answers a call (as a
 * person, a voicemail box or a fax), presses keys, stays silent, hangs up, or
 * lets it ring out, be busy or fail; the fake posts each to the webhook Twilio
 * would, signed, follows the TwiML it gets back (a <Gather>'s action for the
 * keys, <Hangup/> ending the call with a `completed` status callback).
 */
export async function startFakeTwilio() {
  const carrier = await startFakeCarrier();
  const messages: SentMessage[] = [];
  const calls: PlacedCall[] = [];
  let refuse: { status: number; code: number; message: string } | null = null;
  carrier.respond((request, response) => {
    const account = `/2010-04-01/Accounts/${TWILIO_SID}`;
    if (request.method !== 'POST' || (request.path !== `${account}/Messages.json` && request.path !== `${account}/Calls.json`)) return void response.writeHead(404).end();
    if (request.headers.authorization !== `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`) {
      return void response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 20003, message: 'Authenticate', status: 401 }));
    }
    if (refuse) return void response.writeHead(refuse.status, { 'content-type': 'application/json' }).end(JSON.stringify({ ...refuse }));
    const form = new URLSearchParams(request.body);
    const params = Object.fromEntries(form);
    if (request.path.endsWith('/Calls.json')) {
      if (!params.To || !params.From || !params.Url) return void response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 21205, message: 'Url parameter is required', status: 400 }));
      const sid = `CA${randomBytes(16).toString('hex')}`;
      calls.push({ sid, params, statusEvents: form.getAll('StatusCallbackEvent'), gather: null, over: false });
      return void response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid, status: 'queued', to: params.To, from: params.From }));
    }
    const sid = `SM${randomBytes(16).toString('hex')}`;
    messages.push({ sid, params, authorization: request.headers.authorization });
    response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid, status: 'queued', to: params.To, from: params.From, price: null, price_unit: 'USD' }));
  });

  /** Posts a status callback for a message, signed with `token` (the real one unless a test forges it). */
  async function callback(message: SentMessage, status: string, options: { token?: string; sid?: string; extra?: Record<string, string> } = {}): Promise<Response> {
    const url = message.params.StatusCallback!;
    const params = { MessageSid: options.sid ?? message.sid, MessageStatus: status, AccountSid: TWILIO_SID, To: message.params.To!, From: message.params.From!, ...options.extra };
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(options.token ?? TWILIO_TOKEN, url, params) },
      body: new URLSearchParams(params).toString(),
    });
  }

  /** Posts an incoming text message (a user's reply) to the number's webhook, signed as Twilio signs it. */
  async function incoming(webhook: string, from: string, body: string, token = TWILIO_TOKEN): Promise<Response> {
    const params = { MessageSid: `SM${randomBytes(16).toString('hex')}`, AccountSid: TWILIO_SID, From: from, To: '+15005550006', Body: body, NumMedia: '0' };
    return fetch(webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, webhook, params) },
      body: new URLSearchParams(params).toString(),
    });
  }

  /** POSTs a signed form to one of our webhooks, as Twilio does. */
  async function signedPost(url: string, params: Record<string, string>, token = TWILIO_TOKEN): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, url, params) },
      body: new URLSearchParams(params).toString(),
    });
  }

  const callParams = (call: PlacedCall, status: string) => ({ CallSid: call.sid, AccountSid: TWILIO_SID, To: call.params.To!, From: call.params.From!, CallStatus: status, Direction: 'outbound-api' });

  /** A call's status callback, signed with `token` (the real one unless a test forges it). */
  async function callStatus(call: PlacedCall, status: string, options: { token?: string; sid?: string; extra?: Record<string, string> } = {}): Promise<Response> {
    if (['completed', 'busy', 'no-answer', 'canceled', 'failed'].includes(status)) call.over = true;
    return signedPost(call.params.StatusCallback!, { ...callParams(call, status), ...(options.sid ? { CallSid: options.sid } : {}), ...options.extra }, options.token);
  }

  /** Follows TwiML: a <Gather> waits for keys, <Hangup/> (or TwiML with nothing left to do) ends the call. */
  async function follow(call: PlacedCall, response: Response): Promise<CallTurn> {
    const turn = readTwiml(response.status, await response.text());
    call.gather = turn.gather?.action ?? null;
    if (response.ok && !turn.gather) await callStatus(call, 'completed');
    return turn;
  }

  /** Answers a call: `human`, or as machine detection reports a voicemail box (`machine_start`) or a fax (`fax`). */
  async function answer(call: PlacedCall, answeredBy = 'human', token?: string): Promise<CallTurn> {
    await callStatus(call, 'in-progress');
    const detected: Record<string, string> = call.params.MachineDetection ? { AnsweredBy: answeredBy } : {};
    return follow(call, await signedPost(call.params.Url!, { ...callParams(call, 'in-progress'), ...detected }, token));
  }

  /**
   * Presses `keys` in the <Gather> the call waits in: up to a `#` they are
   * Digits and `#` the FinishedOnKey; without one, silence ends the entry
   * (FinishedOnKey empty). An empty string is silence alone.
   */
  async function press(call: PlacedCall, keys: string, options: { token?: string; sid?: string } = {}): Promise<CallTurn> {
    if (!call.gather || call.over) throw new Error('the call is not waiting for keys');
    const hash = keys.indexOf('#');
    const entry = hash === -1 ? { Digits: keys, FinishedOnKey: '' } : { Digits: keys.slice(0, hash), FinishedOnKey: '#' };
    const response = await signedPost(call.gather, { ...callParams(call, 'in-progress'), ...(options.sid ? { CallSid: options.sid } : {}), ...entry }, options.token);
    if (!response.ok) return readTwiml(response.status, await response.text());
    return follow(call, response);
  }

  return {
    url: carrier.url,
    messages,
    calls,
    callback,
    incoming,
    answer,
    press,
    callStatus,
    refuseWith: (next: typeof refuse) => (refuse = next),
    close: carrier.close,
  };
}
