import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Runtime } from '../../../main.js';
import { TWILIO_STATUS_PATH, verifyTwilioSignature } from '../../../modules/telephony/twilio.js';
import { appError } from '../../../shared/errors.js';
import { Problem } from '../schemas.js';

const tags = ['telephony webhooks'];
/** Twilio's message states, and the ones that mean the text will not arrive. */
const MESSAGE_STATES = ['accepted', 'scheduled', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'read', 'receiving', 'received', 'canceled'];
const NOT_DELIVERED = new Set(['undelivered', 'failed', 'canceled']);

/**
 * Webhooks carriers call: no API key, but every request must carry the
 * carrier's signature over exactly what it sent. Form bodies
 * (application/x-www-form-urlencoded) are read as flat name → value maps.
 */
export const telephonyWebhookRoutes =
  (runtime: Runtime): FastifyPluginAsync =>
  async (plain) => {
    plain.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const twilio = runtime.config.telephony.twilio;

    app.post(TWILIO_STATUS_PATH.slice('/telephony/v1'.length), {
      schema: {
        tags,
        summary: 'Twilio message status callback',
        description:
          'Twilio posts each status change of a text message here (StatusCallback). The X-Twilio-Signature header must match the body and this URL as configured in telephony.twilio.publicUrl; the change is added to the telephony log.',
        querystring: Type.Object({ ref: Type.String({ minLength: 1, maxLength: 64, description: 'Our id of the message.' }) }, { additionalProperties: false }),
        body: Type.Object(
          { MessageSid: Type.String({ pattern: '^[A-Z]{2}[0-9a-fA-F]{32}$' }), MessageStatus: Type.Enum(MESSAGE_STATES), ErrorCode: Type.Optional(Type.String({ maxLength: 16 })) },
          { additionalProperties: Type.String({ maxLength: 2048 }) },
        ),
        response: { 204: Type.Null({ description: 'Recorded.' }), 400: Problem, 403: Problem, 404: Problem, 415: Problem },
      },
      handler: async (request, reply) => {
        if (runtime.config.telephony.gateway !== 'twilio' || !twilio.publicUrl) throw appError('not_found', 'Twilio status callbacks are not configured on this server');
        const url = `${twilio.publicUrl.replace(/\/+$/, '')}${request.url}`;
        const signature = request.headers['x-twilio-signature'];
        if (!verifyTwilioSignature(twilio.authToken, url, request.body as Record<string, string>, typeof signature === 'string' ? signature : undefined)) {
          throw appError('forbidden', 'X-Twilio-Signature does not match this request');
        }
        const { MessageSid, MessageStatus, ErrorCode } = request.body;
        await runtime.telephony.recordStatus(request.query.ref, {
          gateway: 'twilio',
          providerId: MessageSid,
          status: MessageStatus,
          error: NOT_DELIVERED.has(MessageStatus) ? `Twilio status ${MessageStatus}${ErrorCode ? ` (error ${ErrorCode})` : ''}` : null,
        });
        return reply.status(204).send(null);
      },
    });
  };
