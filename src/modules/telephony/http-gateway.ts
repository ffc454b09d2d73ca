import type { Config } from '../../config/schema.js';
import type { OutboundSms, SendResult, TelephonyGateway } from './gateway.js';

/** Replaces the placeholders in every string of the template; the values never become JSON syntax. */
function fill(template: unknown, values: Record<string, string>): unknown {
  if (typeof template === 'string') return template.replace(/\{\{(to|body|reference)\}\}/g, (_match, name: string) => values[name]!);
  if (Array.isArray(template)) return template.map((item) => fill(item, values));
  if (template !== null && typeof template === 'object') return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, fill(value, values)]));
  return template;
}

const describeError = (error: unknown): string => {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return error instanceof Error ? `${error.message}${cause}` : String(error);
};

/**
 * A generic webhook gateway: each text message is POSTed as JSON, made from
 * `telephony.http.bodyTemplate`, to `telephony.http.url`. A 2xx answer means
 * the provider took it (its id read from `idField` of a JSON answer); anything
 * else, or no answer within `timeoutMs`, means it was not sent.
 */
export function httpGateway(config: Config['telephony']['http']): TelephonyGateway {
  const template = JSON.parse(config.bodyTemplate) as unknown;
  return {
    name: 'http',
    keepsBody: false,
    async sendSms(message: OutboundSms): Promise<SendResult> {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
      if (config.authorization) headers.authorization = config.authorization;
      let response: Response;
      try {
        response = await fetch(config.url, {
          method: 'POST',
          headers,
          body: JSON.stringify(fill(template, { to: message.to, body: message.body, reference: message.reference })),
          signal: AbortSignal.timeout(config.timeoutMs),
          redirect: 'error',
        });
      } catch (error) {
        return { status: 'failed', providerId: null, error: describeError(error) };
      }
      const text = await response.text().catch(() => '');
      if (!response.ok) return { status: 'failed', providerId: null, error: `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}` };
      let providerId: string | null = null;
      try {
        const id = (JSON.parse(text) as Record<string, unknown>)[config.idField];
        if (typeof id === 'string' || typeof id === 'number') providerId = String(id);
      } catch {
        // A provider that answers 2xx without JSON took the message all the same.
      }
      return { status: 'sent', providerId };
    },
  };
}
