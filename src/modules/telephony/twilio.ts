import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import type { OutboundSms, SendResult, TelephonyGateway } from './gateway.js';

/** Where Twilio posts a message's status changes: the server's public URL, with our id of the message. */
export const TWILIO_STATUS_PATH = '/telephony/v1/twilio/status';
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
 */
export function twilioGateway(config: Config['telephony']['twilio']): TelephonyGateway {
  const endpoint = `${config.apiBaseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`).toString('base64')}`;
  return {
    name: 'twilio',
    keepsBody: false,
    async sendSms(message: OutboundSms): Promise<SendResult> {
      const form = new URLSearchParams({ To: message.to, From: config.from, Body: message.body });
      if (config.publicUrl) form.set('StatusCallback', `${config.publicUrl.replace(/\/+$/, '')}${TWILIO_STATUS_PATH}?ref=${encodeURIComponent(message.reference)}`);
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form.toString(),
          signal: AbortSignal.timeout(config.timeoutMs),
          redirect: 'error',
        });
      } catch (error) {
        return { status: 'failed', providerId: null, error: error instanceof Error && error.name === 'TimeoutError' ? 'no answer in time' : String((error as Error).cause ?? error) };
      }
      const answer = (await response.json().catch(() => ({}))) as TwilioMessage;
      if (!response.ok) return { status: 'failed', providerId: null, error: `HTTP ${response.status}${answer.code ? ` (Twilio error ${answer.code})` : ''}${answer.message ? `: ${answer.message}` : ''}` };
      const failed = answer.status === 'failed' || answer.status === 'undelivered';
      return {
        status: failed ? 'failed' : 'queued',
        providerId: answer.sid ?? null,
        cost: answer.price ? `${answer.price} ${answer.price_unit ?? ''}`.trim() : null,
        ...(failed ? { error: `Twilio status ${answer.status}` } : {}),
      };
    },
  };
}
