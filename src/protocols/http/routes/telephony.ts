import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import type { Runtime } from '../../../main.js';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { OUTBOX_CALL_ACTIONS, playOutboxCall, replyThroughOutbox } from '../../../modules/telephony/outbox.js';
import * as S from '../schemas.js';
import { challengeResult } from '../../../modules/auth/answers.js';

const tags = ['telephony'];
const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const TelephonyEntry = Type.Object({
  id: Type.String(),
  username: Type.String(),
  kind: Type.Enum(['sms', 'call']),
  direction: Type.Enum(['outbound', 'inbound']),
  gateway: Type.String(),
  to: Type.String({ description: 'E.164 number.' }),
  body: Nullable(Type.String({ description: 'The text: kept by the outbox gateway only.' })),
  provider_id: Nullable(Type.String()),
  status: Type.String(),
  history: Type.Array(Type.Object({ status: Type.String(), at: Type.String({ format: 'date-time' }) })),
  cost: Nullable(Type.String()),
  error: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
});
const ListQuery = Type.Object(S.PageQuery, strict);
const ReplyBody = Type.Object(
  { from: Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'The phone the reply comes from, in E.164.' }), body: Type.String({ minLength: 1, maxLength: 1600, description: 'The text of the reply.' }) },
  strict,
);
const ReplyAnswer = Type.Object({
  answered: Type.Boolean({ description: 'False when no two-way SMS challenge was waiting for that phone.' }),
  txid: Nullable(Type.String()),
  result: Nullable(Type.Enum(['allow', 'deny', 'waiting'])),
  result_code: Nullable(Type.String()),
});

const CallParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: "The call's id in the outbox." }) }, strict);
const CallActionBody = Type.Object(
  {
    action: Type.Enum([...OUTBOX_CALL_ACTIONS], {
      description:
        'answer (a person picks up), voicemail, fax, keys (press `keys`), silence (the prompt times out), hangup, busy, no_answer, fail (the call cannot be placed or reached).',
    }),
    keys: Type.Optional(Type.String({ pattern: '^[0-9*#]{1,32}$', description: 'With action keys: what is pressed. A # ends the entry; without one the entry times out.' })),
  },
  strict,
);
const CallTurn = Type.Object({
  call: TelephonyEntry,
  says: Nullable(Type.String({ description: 'What the call says in answer; null when it says nothing.' })),
  waits_for_keys: Type.Boolean({ description: 'True when the call now waits for keys; false when it has hung up.' }),
});

/** The outbox (messages kept instead of sent) and each user's telephony log. */
export const telephonyRoutes =
  (runtime: Runtime): FastifyPluginAsync =>
  async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/outbox', {
      // The outbox shows one-time codes: for the administrators who may also bypass users, not for report readers.
      config: { roles: ACCESS.userSecurity },
      schema: {
        tags,
        summary: 'Messages the outbox gateway kept, newest first',
        description: 'With telephony.gateway = outbox nothing reaches a phone: the texts, one-time codes included, are here. For trying the flows, not for production.',
        querystring: ListQuery,
        response: { 200: S.pageOf(TelephonyEntry), ...S.adminErrors },
      },
      handler: (request) => runtime.telephony.list({ gateway: 'outbox', cursor: request.query.cursor, limit: request.query.limit }),
    });

    app.post('/outbox/replies', {
      config: { roles: ACCESS.userSecurity },
      schema: {
        tags,
        summary: 'Reply to a text message as the user would (outbox gateway)',
        description:
          'Stands in for a phone when telephony.gateway is outbox: the text answers the newest open two-way SMS challenge of a user whose primary phone is `from`, as a carrier webhook would.',
        body: ReplyBody,
        response: { 200: ReplyAnswer, ...S.adminErrors, 409: S.Problem },
      },
      handler: async (request) => {
        const answer = await replyThroughOutbox(runtime.telephony, runtime.engine, request.body.from, request.body.body);
        return answer ? { answered: true, txid: answer.txid, result: challengeResult(answer.result), result_code: answer.result_code } : { answered: false, txid: null, result: null, result_code: null };
      },
    });

    app.post('/outbox/calls/:id', {
      config: { roles: ACCESS.userSecurity },
      schema: {
        tags,
        summary: "Play the phone's part on a call in the outbox",
        description:
          "Stands in for the user's phone when telephony.gateway is outbox: answer the call, press keys, stay silent, hang up, or let it fail. The call's authentication moves on as it would with a carrier's webhooks; the answer says what the call said back.",
        params: CallParams,
        body: CallActionBody,
        response: { 200: CallTurn, ...S.adminErrors, 404: S.Problem, 409: S.Problem },
      },
      handler: (request) => playOutboxCall(runtime.telephony, runtime.engine, request.params.id, request.body.action, request.body.keys),
    });

    app.get('/users/:username/telephony', {
      config: { roles: ACCESS.reportsRead },
      schema: {
        tags,
        summary: "A user's text messages and calls, newest first",
        description: 'Numbers, gateways, provider ids and status histories. Message texts are left out (they hold one-time codes); see /outbox.',
        params: S.UsernameParams,
        querystring: ListQuery,
        response: { 200: S.pageOf(TelephonyEntry), ...S.adminErrors, 404: S.Problem },
      },
      handler: async (request) => {
        const user = await runtime.directory.get(request.params.username);
        const page = await runtime.telephony.list({ userId: user.id, cursor: request.query.cursor, limit: request.query.limit });
        return { ...page, items: page.items.map((item) => ({ ...item, body: null })) };
      },
    });
  };
