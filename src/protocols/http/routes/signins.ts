import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import type { Runtime } from '../../../main.js';
import { ACCESS } from '../../../modules/admin-access/roles.js';
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
  policy: Nullable(Type.String({ description: 'The rule or method that decided.' })),
  method: Nullable(Type.String()),
  result_code: Nullable(Type.String()),
  detail: Nullable(Type.String({ description: 'The SPEC.md §3 satisfied or denied detail.' })),
  push_fatigue: Nullable(Type.String({ description: 'What the push-fatigue defence did: number_matching_required, codes_instead_of_push, push_limit_reached.' })),
});
const Step = Type.Object({ method: Type.String(), result_code: Type.String(), succeeded: Type.Boolean(), detail: Type.String(), at: Type.String({ format: 'date-time' }) });
const TraceEntry = Type.Object({ rule: Type.String(), outcome: Type.Enum(['continue', 'allow', 'deny']), reason: Type.String() });
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
    method: Type.Optional(Type.Enum(['oath', 'questions', 'sms', 'voice', 'app'])),
    ip: Type.Optional(Type.String({ maxLength: 64, description: 'An IP address or a CIDR block.' })),
    entry_point: Type.Optional(Type.String({ maxLength: 64 })),
    policy: Type.Optional(Type.String({ maxLength: 64 })),
    push_fatigue: Type.Optional(Type.Enum(['number_matching_required', 'codes_instead_of_push', 'push_limit_reached'])),
    order: Type.Optional(Type.Enum(['desc', 'asc'], { default: 'desc', description: 'By time: newest first (desc) or oldest first.' })),
    ...S.PageQuery,
  },
  strict,
);

/** The sign-in log (SPEC.md §3): read by report readers and administrators; nobody edits it. */
export const signinRoutes =
  (runtime: Runtime): FastifyPluginAsync =>
  async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

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
