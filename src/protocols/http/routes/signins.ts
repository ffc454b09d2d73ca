import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import type { Runtime } from '../../../main.js';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { METHOD_NAMES } from '../../../modules/methods/contract.js';
import * as S from '../schemas.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const tags = ['sign-in log'];

const Signin = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  username: Type.String(),
  application: Type.String(),
  ip: Nullable(Type.String()),
  auth_type: Type.String(),
  entry_point: Type.String(),
  status: Type.Enum(['success', 'failure']),
  mfa_required: Type.Boolean(),
  policy: Nullable(Type.String({ description: 'The conditional access policy that required MFA or let it be skipped (per-user MFA for the per-user state), or the rule that decided (bypass, cache, throttle...).' })),
  method: Nullable(Type.String()),
  result_code: Nullable(Type.String()),
  detail: Nullable(Type.String({ description: 'The SPEC.md §3 satisfied or denied detail.' })),
  push_fatigue: Nullable(Type.String({ description: 'What the push-fatigue defence did: number_matching_required, codes_instead_of_push, push_limit_reached.' })),
  client_type: Nullable(Type.String({ description: 'modern, or legacy (a protocol that cannot show a second factor).' })),
  device_id: Nullable(Type.String({ description: 'The device the user signed in from, as the application named it.' })),
});
const Step = Type.Object({
  method: Type.String({ description: 'oath, questions, sms, voice, app; engine for a rule; remembered_device for a token the policy no longer honours.' }),
  result_code: Nullable(Type.String()),
  succeeded: Type.Boolean(),
  detail: Type.String(),
  at: Type.String({ format: 'date-time' }),
});
const TraceEntry = Type.Object({
  rule: Type.String(),
  outcome: Type.Enum(['continue', 'allow', 'deny']),
  code: Type.Optional(Type.String({ description: 'Stable reason code (docs/authentication.md, "Reason codes"); absent in sign-ins recorded before codes were.' })),
  details: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'What the code is about (times, counts, names), as the code says; absent when it needs none.' })),
  reason: Type.String({ description: "The code's text for people." }),
  policy: Type.Optional(Type.String({ description: 'conditional_access: the policy this entry is about.' })),
  applied: Type.Optional(Type.Boolean({ description: 'conditional_access: whether every condition of the policy held.' })),
});
const SigninDetail = Type.Object({
  ...Signin.properties,
  authentication_details: Type.Array(Step, { description: 'Every step: method, result code, succeeded, detail, time.' }),
  conditional_access: Type.Array(TraceEntry, { description: 'Each rule in order: what it said, and whether it decided.' }),
  attempt: Nullable(Type.Object({}, { additionalProperties: true, description: 'The SPEC.md §5 attempt record, when one was written.' })),
});

const ListQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ description: 'ISO 8601: sign-ins at or after.' })),
    to: Type.Optional(Type.String({ description: 'ISO 8601: sign-ins before.' })),
    user: Type.Optional(Type.String({ maxLength: 256 })),
    application: Type.Optional(Type.String({ maxLength: 128 })),
    status: Type.Optional(Type.Enum(['success', 'failure'])),
    mfa_required: Type.Optional(Type.Boolean()),
    result_code: Type.Optional(Type.String({ maxLength: 64 })),
    method: Type.Optional(Type.Enum(METHOD_NAMES)),
    ip: Type.Optional(Type.String({ maxLength: 64, description: 'An IP address or a CIDR block.' })),
    entry_point: Type.Optional(Type.String({ maxLength: 64 })),
    policy: Type.Optional(Type.String({ maxLength: 64 })),
    push_fatigue: Type.Optional(Type.Enum(['number_matching_required', 'codes_instead_of_push', 'push_limit_reached'])),
    client_type: Type.Optional(Type.Enum(['modern', 'legacy'])),
    order: Type.Optional(Type.Enum(['desc', 'asc'], { default: 'desc', description: 'By time: newest first (desc) or oldest first.' })),
    ...S.PageQuery,
  },
  strict,
);

const { cursor: _cursor, limit: _limit, order: _order, ...filterProperties } = ListQuery.properties;
const ExportOptions = {
  format: Type.Optional(Type.Enum(['csv', 'jsonl'], { default: 'csv', description: 'csv (header row, CRLF lines) or jsonl (one JSON object per line).' })),
  bom: Type.Optional(Type.Boolean({ default: false, description: 'csv: start with a UTF-8 byte order mark, for spreadsheet tools that guess the encoding.' })),
};
const SigninExportQuery = Type.Object({ ...filterProperties, ...ExportOptions }, strict);
const AttemptExportQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ description: 'ISO 8601: attempts at or after.' })),
    to: Type.Optional(Type.String({ description: 'ISO 8601: attempts before.' })),
    user: Type.Optional(Type.String({ maxLength: 256 })),
    application: Type.Optional(Type.String({ maxLength: 128 })),
    result: Type.Optional(Type.String({ maxLength: 64, description: 'A SPEC.md §2 result code.' })),
    method: Type.Optional(Type.String({ maxLength: 16, description: 'voice, sms, app, oath, questions.' })),
    ...ExportOptions,
  },
  strict,
);
/** A streamed file: documented as a string, sent as a stream (Fastify pipes streams without serialising them). */
const FileStream = Type.Unsafe<Readable>({ type: 'string', description: 'The file, streamed.' });
const CONTENT_TYPES = { csv: 'text/csv; charset=utf-8', jsonl: 'application/x-ndjson; charset=utf-8' } as const;
const stamp = (now: number) => new Date(now).toISOString().slice(0, 10);

/** The sign-in log (SPEC.md §3): read by report readers and administrators; nobody edits it. */
export const signinRoutes =
  (runtime: Runtime): FastifyPluginAsync =>
  async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

    /** Sends a download as an attachment named after what it holds and today's date. */
    const download = (reply: FastifyReply, name: string, format: 'csv' | 'jsonl', body: AsyncIterable<string | Uint8Array>) =>
      reply
        .type(CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="${name}-${stamp(runtime.clock.now())}.${format}"`)
        .send(Readable.from(body));

    app.get('/signins', {
      config: { roles: ACCESS.reportsRead },
      schema: {
        tags,
        summary: 'Sign-ins, filtered, in time order',
        description: 'Every filter is optional and they all apply. Paging follows (time, id): a page boundary stays put while new sign-ins arrive.',
        querystring: ListQuery,
        response: { 200: S.pageOf(Signin), ...S.adminErrors },
      },
      handler: (request) => {
        const { cursor, limit, order, ...filters } = request.query;
        return runtime.signinLog.list(filters, { cursor, limit, order });
      },
    });

    app.get('/signins/export', {
      config: { roles: ACCESS.reportsRead },
      schema: {
        tags,
        summary: 'Download sign-ins (CSV or JSON Lines), oldest first',
        description: 'The same filters as the list. Streamed in batches: memory stays flat whatever the size. CSV cells a spreadsheet would run as formulas are written after a quote mark.',
        querystring: SigninExportQuery,
        produces: ['text/csv', 'application/x-ndjson'],
        response: { 200: FileStream, ...S.adminErrors },
      },
      handler: async (request, reply) => {
        const { format = 'csv', bom = false, ...filters } = request.query;
        return download(reply, 'signins', format, await runtime.exports.signins(filters, format, bom));
      },
    });

    app.get('/attempts/export', {
      config: { roles: ACCESS.reportsRead },
      schema: {
        tags,
        summary: 'Download the activity report: attempt records with their result codes (CSV or JSON Lines)',
        description: 'Every SPEC.md §5 attempt column, oldest first, streamed in batches.',
        querystring: AttemptExportQuery,
        produces: ['text/csv', 'application/x-ndjson'],
        response: { 200: FileStream, ...S.adminErrors },
      },
      handler: async (request, reply) => {
        const { format = 'csv', bom = false, ...filters } = request.query;
        return download(reply, 'attempts', format, await runtime.exports.attempts(filters, format, bom));
      },
    });

    app.get('/signins/:id', {
      config: { roles: ACCESS.reportsRead },
      schema: {
        tags,
        summary: 'One sign-in: basic info, authentication details and conditional access',
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }, strict),
        response: { 200: SigninDetail, ...S.adminErrors, 404: S.Problem },
      },
      handler: (request) => runtime.signinLog.get(request.params.id),
    });
  };
