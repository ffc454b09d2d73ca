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

/**
 * A local stand-in for Twilio's Messages API on 127.0.0.1: it takes
 * form-encoded messages with HTTP Basic auth as Twilio does, answers with a
 * message resource, and posts signed status callbacks to the StatusCallback
 * URL of a message when a test says so.
 */
export async function startFakeTwilio() {
  const carrier = await startFakeCarrier();
  const messages: SentMessage[] = [];
  let refuse: { status: number; code: number; message: string } | null = null;
  carrier.respond((request, response) => {
    const expectedPath = `/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`;
    if (request.method !== 'POST' || request.path !== expectedPath) return void response.writeHead(404).end();
    if (request.headers.authorization !== `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`) {
      return void response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 20003, message: 'Authenticate', status: 401 }));
    }
    if (refuse) return void response.writeHead(refuse.status, { 'content-type': 'application/json' }).end(JSON.stringify({ ...refuse }));
    const params = Object.fromEntries(new URLSearchParams(request.body));
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

  return { url: carrier.url, messages, callback, incoming, refuseWith: (next: typeof refuse) => (refuse = next), close: carrier.close };
}
