import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Runtime } from '../../../main.js';
import { TWILIO_SMS_PATH, TWILIO_STATUS_PATH, verifyTwilioSignature } from '../../../modules/telephony/twilio.js';
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

    /** Twilio webhooks are answered only when Twilio is the gateway, and only when signed over this exact URL and body. */
    const checkSignature = (path: string, signature: string | string[] | undefined, params: Record<string, string>) => {
      if (runtime.config.telephony.gateway !== 'twilio' || !twilio.publicUrl) throw appError('not_found', 'Twilio webhooks are not configured on this server');
      const url = `${twilio.publicUrl.replace(/\/+$/, '')}${path}`;
      if (!verifyTwilioSignature(twilio.authToken, url, params, typeof signature === 'string' ? signature : undefined)) {
        throw appError('forbidden', 'X-Twilio-Signature does not match this request');
      }
    };

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
        checkSignature(request.url, request.headers['x-twilio-signature'], request.body as Record<string, string>);
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

    app.post(TWILIO_SMS_PATH.slice('/telephony/v1'.length), {
      schema: {
        tags,
        summary: 'Twilio incoming text message',
        description:
          "Set as the phone number's incoming-message webhook: a user's reply answers their open two-way SMS challenge. Signed like every Twilio webhook; answered with empty TwiML.",
        body: Type.Object(
          { MessageSid: Type.String({ pattern: '^[A-Z]{2}[0-9a-fA-F]{32}$' }), From: Type.String({ maxLength: 32 }), Body: Type.String({ maxLength: 1600 }) },
          { additionalProperties: Type.String({ maxLength: 2048 }) },
        ),
        response: { 200: Type.String({ description: 'Empty TwiML: no reply is sent.' }), 400: Problem, 403: Problem, 404: Problem, 415: Problem },
      },
      handler: async (request, reply) => {
        checkSignature(request.url, request.headers['x-twilio-signature'], request.body as Record<string, string>);
        const { From, Body, MessageSid } = request.body;
        await runtime.telephony.recordInbound({ gateway: 'twilio', from: From, body: Body, providerId: MessageSid });
        await runtime.engine.answerReply(From, Body);
        return reply.type('text/xml').send('<?xml version="1.0" encoding="UTF-8"?><Response/>');
      },
    });
  };
