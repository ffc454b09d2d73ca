import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Runtime } from '../../../main.js';
import type { CallEvent } from '../../../modules/telephony/gateway.js';
import { TWILIO_CALL_STATUS_PATH, TWILIO_KEYS_PATH, TWILIO_SMS_PATH, TWILIO_STATUS_PATH, TWILIO_VOICE_PATH, callTwiml, verifyTwilioSignature } from '../../../modules/telephony/twilio.js';
import { appError } from '../../../shared/errors.js';
import { Problem } from '../schemas.js';

const tags = ['telephony webhooks'];
/** Twilio's message states, and the ones that mean the text will not arrive. */
const MESSAGE_STATES = ['accepted', 'scheduled', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'read', 'receiving', 'received', 'canceled'];
const NOT_DELIVERED = new Set(['undelivered', 'failed', 'canceled']);
/** Twilio's call states; the last five end a call. */
const CALL_STATES = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'canceled', 'failed'];
const CALL_ENDS: Record<string, Extract<CallEvent, { type: 'ended' }>['status']> = {
  completed: 'completed',
  busy: 'busy',
  'no-answer': 'no_answer',
  canceled: 'canceled',
  failed: 'failed',
};
const CALL_SID = Type.String({ pattern: '^CA[0-9a-fA-F]{32}$' });
const REF = Type.Object({ ref: Type.String({ minLength: 1, maxLength: 64, description: 'Our id of the call.' }) }, { additionalProperties: false });
const TWIML = Type.String({ description: 'TwiML: what the call says and does next.' });

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

    const keysUrl = (ref: string) => `${twilio.publicUrl.replace(/\/+$/, '')}${TWILIO_KEYS_PATH}?ref=${encodeURIComponent(ref)}`;

    /** A signed voice webhook: the event goes to the call's challenge, and the answer is TwiML for what the call does next. */
    const answerCall = async (request: { url: string; headers: Record<string, string | string[] | undefined>; query: { ref: string }; body: { CallSid: string } }, event: CallEvent) => {
      checkSignature(request.url, request.headers['x-twilio-signature'], request.body as unknown as Record<string, string>);
      const call = await runtime.telephony.findCall(request.query.ref, 'twilio', request.body.CallSid);
      return callTwiml(await runtime.engine.callEvent(call.id, event), keysUrl(call.id));
    };

    app.post(TWILIO_VOICE_PATH.slice('/telephony/v1'.length), {
      schema: {
        tags,
        summary: 'Twilio call answered',
        description:
          "The Url of every call Countersign places: Twilio fetches it when the call is answered, with AnsweredBy when machine detection is on. Answered with TwiML: the greeting inside a <Gather> for the user's keys, or a hang-up (voicemail, fax, or a call whose authentication has ended).",
        querystring: REF,
        body: Type.Object({ CallSid: CALL_SID, AnsweredBy: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: Type.String({ maxLength: 2048 }) }),
        response: { 200: TWIML, 400: Problem, 403: Problem, 404: Problem, 415: Problem },
      },
      handler: async (request, reply) => {
        const answeredBy = request.body.AnsweredBy ?? 'human';
        const by = answeredBy.startsWith('machine') ? 'machine' : answeredBy === 'fax' ? 'fax' : 'human';
        return reply.type('text/xml').send(await answerCall(request, { type: 'answered', by }));
      },
    });

    app.post(TWILIO_KEYS_PATH.slice('/telephony/v1'.length), {
      schema: {
        tags,
        summary: 'Twilio keys pressed',
        description:
          'The action of the <Gather> of a call: the keys pressed before # (Digits) and the key that ended the entry (FinishedOnKey: # , or empty when silence did). Answered with TwiML for what the call does next.',
        querystring: REF,
        body: Type.Object(
          { CallSid: CALL_SID, Digits: Type.Optional(Type.String({ pattern: '^[0-9*#]{0,64}$' })), FinishedOnKey: Type.Optional(Type.String({ pattern: '^[0-9*#]?$' })) },
          { additionalProperties: Type.String({ maxLength: 2048 }) },
        ),
        response: { 200: TWIML, 400: Problem, 403: Problem, 404: Problem, 415: Problem },
      },
      handler: async (request, reply) => {
        const event: CallEvent = { type: 'keys', digits: request.body.Digits ?? '', finished: request.body.FinishedOnKey === '#' };
        return reply.type('text/xml').send(await answerCall(request, event));
      },
    });

    app.post(TWILIO_CALL_STATUS_PATH.slice('/telephony/v1'.length), {
      schema: {
        tags,
        summary: 'Twilio call status callback',
        description:
          "Twilio posts each status change of a call here. The change is added to the call's telephony log entry; a final one (completed, busy, no-answer, canceled, failed) ends the call for its authentication: busy, no answer and failed before an answer give CONFIG_ISSUE, a hang-up before any key FAILED_USER_HUNGUP_ON_US.",
        querystring: REF,
        body: Type.Object(
          {
            CallSid: CALL_SID,
            CallStatus: Type.Enum(CALL_STATES),
            ErrorCode: Type.Optional(Type.String({ maxLength: 16 })),
            Price: Type.Optional(Type.String({ maxLength: 32 })),
            PriceUnit: Type.Optional(Type.String({ maxLength: 8 })),
          },
          { additionalProperties: Type.String({ maxLength: 2048 }) },
        ),
        response: { 204: Type.Null({ description: 'Recorded.' }), 400: Problem, 403: Problem, 404: Problem, 415: Problem },
      },
      handler: async (request, reply) => {
        checkSignature(request.url, request.headers['x-twilio-signature'], request.body as Record<string, string>);
        const { CallSid, CallStatus, ErrorCode, Price, PriceUnit } = request.body;
        const call = await runtime.telephony.findCall(request.query.ref, 'twilio', CallSid);
        const ended = CALL_ENDS[CallStatus];
        await runtime.telephony.recordStatus(call.id, {
          gateway: 'twilio',
          providerId: CallSid,
          status: CallStatus,
          error: ended && ended !== 'completed' ? `Twilio status ${CallStatus}${ErrorCode ? ` (error ${ErrorCode})` : ''}` : null,
          cost: Price ? `${Price} ${PriceUnit ?? ''}`.trim() : null,
        });
        if (ended) await runtime.engine.callEvent(call.id, { type: 'ended', status: ended });
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
