import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Runtime } from '../../../main.js';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import * as S from '../schemas.js';

const strict = { additionalProperties: false } as const;
const tags = ['reports'];
const Period = Type.Object(
  {
    from: Type.Optional(Type.String({ description: 'ISO 8601, inclusive (default: 30 days before `to`).' })),
    to: Type.Optional(Type.String({ description: 'ISO 8601, exclusive (default: now).' })),
  },
  strict,
);
const Registration = Type.Object({
  count: Type.Integer({ description: 'How many users, in all pages.' }),
  items: Type.Array(Type.Object({ username: Type.String(), mfa_state: Type.String(), methods: Type.Array(Type.String()) })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
const Counts = { signins: Type.Integer(), succeeded: Type.Integer(), failed: Type.Integer() };
const Insights = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  signins: Type.Integer(),
  mfa_required: Type.Integer(),
  mfa_completed: Type.Integer(),
  mfa_failed: Type.Integer(),
  by_method: Type.Array(Type.Object({ method: Type.String(), ...Counts })),
  top_denied_details: Type.Array(Type.Object({ detail: Type.String(), signins: Type.Integer() })),
  users_with_repeated_failures: Type.Array(Type.Object({ username: Type.String(), failures: Type.Integer() }), {
    description: 'Users with 3 or more failed sign-ins within one UTC day: their failures on those days, most first (at most 100).',
  }),
  daily: Type.Array(Type.Object({ day: Type.String(), mfa_required: Type.Integer(), ...Counts })),
});
const EntryPoints = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  entry_points: Type.Array(Type.Object({ entry_point: Type.String(), ...Counts })),
});
const Node = Type.Object({
  id: Type.String(),
  host: Type.String(),
  version: Type.String(),
  started_at: Type.String({ format: 'date-time' }),
  last_seen_at: Type.String({ format: 'date-time' }),
  database_reachable: Type.Boolean(),
  heartbeat_seconds: Type.Integer({ description: "The node's heartbeat interval: it is down after missing three." }),
  status: Type.Enum(['up', 'down', 'stopped']),
});
const FileStream = Type.Unsafe<Readable>({ type: 'string', description: 'The file, streamed.' });

/** The SPEC.md §4 reports (block and bypass history are under /blocks and /bypasses). */
export const reportRoutes =
  (runtime: Runtime): FastifyPluginAsync =>
  async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const reports = runtime.reports;
    const page = Type.Object(S.PageQuery, strict);

    for (const [path, registered, summary] of [
      ['/reports/registered-users', true, 'Users registered for MFA (a phone, an active OATH token or authenticator app); enabled accounts only'],
      ['/reports/unregistered-users', false, 'Users not registered for MFA; enabled accounts only'],
    ] as const) {
      app.get(path, {
        config: { roles: ACCESS.reportsRead },
        schema: { tags, summary, querystring: page, response: { 200: Registration, ...S.adminErrors } },
        handler: (request) => reports.registration(registered, request.query),
      });
    }

    app.get('/reports/mfa-status', {
      config: { roles: ACCESS.reportsRead },
      schema: {
        tags,
        summary: 'Every user: UserPrincipalName, MFA Status, MFA Methods (CSV)',
        querystring: Type.Object({ bom: Type.Optional(Type.Boolean({ default: false, description: 'Start with a UTF-8 byte order mark.' })) }, strict),
        produces: ['text/csv'],
        response: { 200: FileStream, ...S.adminErrors },
      },
      handler: async (request, reply) =>
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="mfa-status.csv"')
          .send(Readable.from(reports.perUserCsv(request.query.bom))),
    });

    app.get('/reports/insights', {
      config: { roles: ACCESS.reportsRead },
      schema: { tags, summary: 'MFA insights for a period: sign-ins, MFA required, completed and failed, by method, top denied details, repeated failures, daily', querystring: Period, response: { 200: Insights, ...S.adminErrors } },
      handler: (request) => reports.insights(request.query.from, request.query.to),
    });

    app.get('/reports/entry-points', {
      config: { roles: ACCESS.reportsRead },
      schema: { tags, summary: 'Sign-ins by entry point (HTTP API, CLI, …) for a period', querystring: Period, response: { 200: EntryPoints, ...S.adminErrors } },
      handler: (request) => reports.usageByEntryPoint(request.query.from, request.query.to),
    });

    app.get('/reports/server-status', {
      config: { roles: ACCESS.reportsRead },
      schema: { tags, summary: 'Every server node: version, started, last heartbeat, up / down / stopped', response: { 200: Type.Array(Node), ...S.adminErrors } },
      handler: () => reports.serverStatus(),
    });
  };
