import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { MAX_BYPASS_SECONDS } from '../../../modules/auth/bypasses.js';
import type { Runtime } from '../../../main.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });
const Reason = Type.String({ minLength: 1, maxLength: 500 });

const Application = Type.Object({ id: Type.String(), name: Type.String(), integration_key: Type.String(), enabled: Type.Boolean(), created_at: Timestamp, updated_at: Timestamp });
const ApplicationParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, strict);

const phoneRecord = {
  country_code: Nullable(Type.String()),
  phone_number: Nullable(Type.String()),
  formatted_phone_number: Nullable(Type.String()),
  extension: Nullable(Type.String()),
  new_extension: Nullable(Type.String()),
};
const Block = Type.Object({
  id: Type.Integer(),
  blocked_at: Timestamp,
  blocked_by: Type.String(),
  user_id: Type.String(),
  username: Type.String(),
  ...phoneRecord,
  blocked: Type.Boolean(),
  block_reason: Nullable(Type.String()),
  completed_at: Nullable(Timestamp),
  completion_reason: Nullable(Type.String()),
  account_lockout: Type.Boolean(),
  fraud_alert: Type.Boolean(),
  fraud_alert_not_blocked: Type.Boolean(),
  language: Nullable(Type.String()),
  expires_at: Nullable(Timestamp),
});
const Bypass = Type.Object({
  id: Type.Integer(),
  bypassed_at: Timestamp,
  duration_seconds: Type.Integer(),
  bypassed_by: Type.String(),
  user_id: Type.String(),
  username: Type.String(),
  ...phoneRecord,
  bypass_reason: Nullable(Type.String()),
  completed_at: Nullable(Timestamp),
  completion_reason: Nullable(Type.String()),
  bypass_used: Type.Boolean(),
  expires_at: Timestamp,
});
const HistoryQuery = Type.Object({ username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })), ...S.PageQuery }, strict);

/** Applications of the Auth API, blocks and one-time bypasses. */
export const authAdminRoutes = (runtime: Runtime): FastifyPluginAsync => async (plain) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { applications, blocks, bypasses } = runtime;
  const appTags = ['applications'];

  app.get('/applications', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags: appTags, summary: 'List applications', response: { 200: Type.Object({ items: Type.Array(Application) }), ...S.adminErrors } },
    handler: async () => ({ items: await applications.list() }),
  });

  app.post('/applications', {
    config: { roles: ACCESS.applicationsWrite },
    schema: {
      tags: appTags,
      summary: 'Register an application (its secret is shown once)',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, strict),
      response: { 201: Type.Object({ application: Application, secret: Type.String() }), ...S.adminErrors, 409: S.Problem },
    },
    handler: async (request, reply) => reply.code(201).send(await applications.create(request.body, actorOf(request))),
  });

  app.get('/applications/:name', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags: appTags, summary: 'Read an application', params: ApplicationParams, response: { 200: Application, ...S.adminErrors, 404: S.Problem } },
    handler: (request) => applications.get(request.params.name),
  });

  app.patch('/applications/:name', {
    config: { roles: ACCESS.applicationsWrite },
    schema: {
      tags: appTags,
      summary: 'Rename, enable or disable an application, or rotate its secret',
      params: ApplicationParams,
      body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), enabled: Type.Optional(Type.Boolean()), rotate_secret: Type.Optional(Type.Boolean()) }, { ...strict, minProperties: 1 }),
      response: { 200: Type.Object({ application: Application, secret: Nullable(Type.String()) }), ...S.adminErrors, 404: S.Problem, 409: S.Problem },
    },
    handler: (request) => applications.update(request.params.name, { name: request.body.name, enabled: request.body.enabled, rotateSecret: request.body.rotate_secret }, actorOf(request)),
  });

  app.delete('/applications/:name', {
    config: { roles: ACCESS.applicationsWrite },
    schema: { tags: appTags, summary: 'Delete an application (its records stay)', params: ApplicationParams, response: { 204: Type.Null(), ...S.adminErrors, 404: S.Problem } },
    handler: async (request, reply) => {
      await applications.delete(request.params.name, actorOf(request));
      return reply.code(204).send(null);
    },
  });

  const userTags = ['blocks and bypasses'];

  app.post('/users/:username/block', {
    config: { roles: ACCESS.userSecurity },
    schema: { tags: userTags, summary: 'Block a user (SUCCESS_USER_BLOCKED until unblocked)', params: S.UsernameParams, body: Type.Object({ reason: Reason }, strict), response: { 200: Block, ...S.adminErrors, 404: S.Problem } },
    handler: (request) => blocks.block(request.params.username, request.body.reason, actorOf(request)),
  });

  app.post('/users/:username/unblock', {
    config: { roles: ACCESS.userSecurity },
    schema: { tags: userTags, summary: "End a user's block", params: S.UsernameParams, body: Type.Object({ reason: Reason }, strict), response: { 200: Block, ...S.adminErrors, 404: S.Problem, 409: S.Problem } },
    handler: (request) => blocks.unblock(request.params.username, request.body.reason, actorOf(request)),
  });

  app.post('/users/:username/bypass', {
    config: { roles: ACCESS.userSecurity },
    schema: {
      tags: userTags,
      summary: 'Grant a one-time bypass (SUCCESS_BYPASSED_AUTH on the next authentication within the window)',
      params: S.UsernameParams,
      body: Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: MAX_BYPASS_SECONDS }), reason: Reason }, strict),
      response: { 201: Bypass, ...S.adminErrors, 404: S.Problem },
    },
    handler: async (request, reply) => reply.code(201).send(await bypasses.grant(request.params.username, request.body, actorOf(request))),
  });

  app.delete('/users/:username/bypass', {
    config: { roles: ACCESS.userSecurity },
    schema: { tags: userTags, summary: "Cancel a user's open bypass", params: S.UsernameParams, response: { 200: Bypass, ...S.adminErrors, 404: S.Problem } },
    handler: (request) => bypasses.cancel(request.params.username, actorOf(request)),
  });

  app.get('/blocks', {
    config: { roles: ACCESS.reportsRead },
    schema: { tags: userTags, summary: 'Blocked user history, newest first', querystring: HistoryQuery, response: { 200: S.pageOf(Block), ...S.adminErrors, 404: S.Problem } },
    handler: (request) => blocks.history(request.query),
  });

  app.get('/bypasses', {
    config: { roles: ACCESS.reportsRead },
    schema: { tags: userTags, summary: 'Bypassed user history, newest first', querystring: HistoryQuery, response: { 200: S.pageOf(Bypass), ...S.adminErrors, 404: S.Problem } },
    handler: (request) => bypasses.history(request.query),
  });
};
