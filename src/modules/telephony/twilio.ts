import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import type { CallingGateway, CallResult, CallScript, OutboundCall, OutboundSms, SendResult, TelephonyGateway } from './gateway.js';

/** Where Twilio posts a message's status changes: the server's public URL, with our id of the message. */
export const TWILIO_STATUS_PATH = '/telephony/v1/twilio/status';
/** What Twilio fetches when a call is answered (the call's Url): TwiML saying the greeting and gathering keys. */
export const TWILIO_VOICE_PATH = '/telephony/v1/twilio/voice';
/** Where a <Gather> posts the keys pressed (its action). */
export const TWILIO_KEYS_PATH = '/telephony/v1/twilio/voice/keys';
/** Where Twilio posts a call's status changes (ringing, answered, completed, busy, no-answer, failed). */
export const TWILIO_CALL_STATUS_PATH = '/telephony/v1/twilio/voice/status';
/** Where Twilio posts the text messages users send to our number (two-way SMS replies): the number's incoming-message webhook. */
export const TWILIO_SMS_PATH = '/telephony/v1/twilio/sms';

/**
 * The X-Twilio-Signature of a request: base64 HMAC-SHA1, under the account's
 * auth token, of the full URL Twilio called followed by each POST parameter's
 * name and value, sorted by name.
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = url + Object.keys(params).sort().map((name) => name + params[name]).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** Constant-time check of a webhook's signature; false for a missing or malformed one. */
export function verifyTwilioSignature(authToken: string, url: string, params: Record<string, string>, signature: string | undefined): boolean {
  if (!signature || !authToken) return false;
  const expected = Buffer.from(twilioSignature(authToken, url, params));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Twilio errors that mean the number itself is wrong (not a carrier or account problem): FAILED_INVALID_PHONENUMBER. */
const INVALID_NUMBER_ERRORS = new Set([21211, 21214, 21217, 21401, 21407]);

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char]!);

/** The <Say> voice language for a template language. */
const SAY_LANGUAGES: Record<string, string> = { en: 'en-US', fr: 'fr-FR' };

/**
 * A call script as TwiML. Gathering: the text is said inside a <Gather> that
 * ends on `#` or after `timeoutSeconds` of silence and posts what was pressed
 * to `keysUrl`, even nothing (actionOnEmptyResult), with the key that ended
 * it (FinishedOnKey: `#`, or empty after silence). Otherwise the text is said
 * and the call hung up; no script at all just hangs up.
 */
export function callTwiml(script: CallScript | null, keysUrl: string): string {
  const say = script?.say ? `<Say language="${SAY_LANGUAGES[script.language] ?? 'en-US'}">${escapeXml(script.say)}</Say>` : '';
  const body = script?.gather
    ? `<Gather input="dtmf" finishOnKey="#" timeout="${script.gather.timeoutSeconds}" actionOnEmptyResult="true" method="POST" action="${escapeXml(keysUrl)}">${say}</Gather>`
    : `${say}<Hangup/>`;
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;
}

/** An extension as Twilio's SendDigits: a second's wait for the switchboard, then the keys, `,` a further second each (W). */
export const sendDigits = (extension: string): string => `W${extension.replace(/,/g, 'W')}`;

interface TwilioMessage {
  sid?: string;
  status?: string;
  price?: string | null;
  price_unit?: string | null;
  message?: string;
  code?: number;
}

/**
 * Twilio's Messages API: a form-encoded POST to
 * `/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth
 * (account SID and auth token). When `publicUrl` is set, Twilio is asked to
 * post status changes back (queued → sent → delivered, or failed /
 * undelivered), which the telephony log records after checking the signature.
 * With `publicUrl` the gateway also places calls (the Calls API).
 */
export function twilioGateway(config: Config['telephony']['twilio'], voice: Pick<Config['voice'], 'machineDetection'>): TelephonyGateway | CallingGateway {
  const account = `${config.apiBaseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}`;
  const endpoint = `${account}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`).toString('base64')}`;
  const publicUrl = config.publicUrl.replace(/\/+$/, '');

  /** POSTs a form to the API: the JSON answer, or why it failed. */
  async function post(url: string, form: URLSearchParams): Promise<{ ok: true; answer: TwilioMessage } | { ok: false; result: CallResult & { error: string } }> {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(config.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      return { ok: false, result: { status: 'failed', providerId: null, error: error instanceof Error && error.name === 'TimeoutError' ? 'no answer in time' : String((error as Error).cause ?? error) } };
    }
    const answer = (await response.json().catch(() => ({}))) as TwilioMessage;
    if (response.ok) return { ok: true, answer };
    const error = `HTTP ${response.status}${answer.code ? ` (Twilio error ${answer.code})` : ''}${answer.message ? `: ${answer.message}` : ''}`;
    return { ok: false, result: { status: 'failed', providerId: null, error, invalidNumber: answer.code !== undefined && INVALID_NUMBER_ERRORS.has(answer.code) } };
  }

  /**
   * The Calls API: Twilio dials `To` and, once answered, fetches the call's
   * TwiML from the voice webhook (with AnsweredBy when machine detection is
   * on); every status change goes to the call-status webhook.
   */
  async function placeCall(call: OutboundCall): Promise<CallResult> {
    const ref = `?ref=${encodeURIComponent(call.reference)}`;
    const form = new URLSearchParams({ To: call.to, From: config.from, Url: `${publicUrl}${TWILIO_VOICE_PATH}${ref}`, Method: 'POST', Timeout: String(call.ringSeconds) });
    form.set('StatusCallback', `${publicUrl}${TWILIO_CALL_STATUS_PATH}${ref}`);
    form.set('StatusCallbackMethod', 'POST');
    for (const event of ['initiated', 'ringing', 'answered', 'completed']) form.append('StatusCallbackEvent', event);
    if (voice.machineDetection) form.set('MachineDetection', 'Enable');
    if (call.extension) form.set('SendDigits', sendDigits(call.extension));
    const sent = await post(`${account}/Calls.json`, form);
    if (!sent.ok) return sent.result;
    return { status: 'queued', providerId: sent.answer.sid ?? null };
  }

  const gateway = {
    name: 'twilio',
    keepsBody: false,
    async sendSms(message: OutboundSms): Promise<SendResult> {
      const form = new URLSearchParams({ To: message.to, From: config.from, Body: message.body });
      if (publicUrl) form.set('StatusCallback', `${publicUrl}${TWILIO_STATUS_PATH}?ref=${encodeURIComponent(message.reference)}`);
      const sent = await post(endpoint, form);
      if (!sent.ok) return { status: 'failed', providerId: null, ...(sent.result.error ? { error: sent.result.error } : {}) };
      const answer = sent.answer;
      const failed = answer.status === 'failed' || answer.status === 'undelivered';
      return {
        status: failed ? 'failed' : 'queued',
        providerId: answer.sid ?? null,
        cost: answer.price ? `${answer.price} ${answer.price_unit ?? ''}`.trim() : null,
        ...(failed ? { error: `Twilio status ${answer.status}` } : {}),
      };
    },
  };
  // Calls need the voice webhooks: without a public URL Twilio could not tell us anything about them.
  return publicUrl ? { ...gateway, placeCall } : gateway;
}
