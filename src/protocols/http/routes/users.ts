import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { REMOVABLE_METHODS, removeMethod } from '../../../modules/admin-access/method-removal.js';
import type { Runtime } from '../../../main.js';
import { appError } from '../../../shared/errors.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

const tags = ['users'];

/** Users of the directory, and bulk import from CSV. */
export const userRoutes = (runtime: Runtime): FastifyPluginAsync => async (plain) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { directory, csvImport } = runtime;

  app.get('/users', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags, summary: 'List users', querystring: S.UserListQuery, response: { 200: S.pageOf(S.User), ...S.adminErrors, 404: S.Problem } },
    handler: (request) => directory.list(request.query),
  });

  app.post('/users', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Create a user', body: S.UserCreate, response: { 201: S.User, ...S.adminErrors, 409: S.Problem } },
    handler: async (request, reply) => reply.code(201).send(await directory.create(request.body, actorOf(request))),
  });

  app.get('/users/:username', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags, summary: 'Read a user', params: S.UsernameParams, response: { 200: S.User, ...S.adminErrors, 404: S.Problem } },
    handler: (request) => directory.get(request.params.username),
  });

  app.patch('/users/:username', {
    config: { roles: ACCESS.directoryUpdate },
    schema: {
      tags,
      summary: 'Change a user',
      description: 'Only the fields given change; null clears an optional field (phone, PIN, names, e-mail).',
      params: S.UsernameParams,
      body: S.UserUpdate,
      response: { 200: S.User, ...S.adminErrors, 404: S.Problem, 409: S.Problem },
    },
    handler: (request) => directory.update(request.params.username, request.body, actorOf(request)),
  });

  app.delete('/users/:username', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Delete a user', params: S.UsernameParams, response: { 204: Type.Null(), ...S.adminErrors, 404: S.Problem } },
    handler: async (request, reply) => {
      await directory.delete(request.params.username, actorOf(request));
      return reply.code(204).send(null);
    },
  });

  app.delete('/users/:username/methods/:method', {
    config: { roles: ACCESS.directoryUpdate },
    schema: {
      tags,
      summary: "Remove one kind of a user's methods",
      description:
        'Phone, backup phone, e-mail address, OATH tokens (hardware tokens return to stock), authenticator devices, security answers or app passwords. An Authentication Administrator may do it only for users who hold no administrator role (admin_role); Privileged Authentication and Global Administrators for anyone.',
      params: Type.Object({ username: S.UsernameParams.properties.username, method: Type.Enum(REMOVABLE_METHODS) }, { additionalProperties: false }),
      response: { 200: Type.Object({ method: Type.String(), removed: Type.Integer() }), ...S.adminErrors, 404: S.Problem },
    },
    handler: async (request) => ({ method: request.params.method, removed: await removeMethod(runtime, request.params.username, request.params.method, actorOf(request)) }),
  });

  app.put('/users/:username/password', {
    config: { roles: ACCESS.directoryUpdate },
    schema: {
      tags,
      summary: "Set or clear a user's password (local directory)",
      description: 'Stored as an argon2id hash. null clears it. The same rule as for methods: an Authentication Administrator may not set the password of a user who holds an administrator role.',
      params: S.UsernameParams,
      body: Type.Object({ password: Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()]) }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...S.adminErrors, 404: S.Problem },
    },
    handler: async (request, reply) => {
      await runtime.selfService.setPassword(request.params.username, request.body.password, actorOf(request));
      return reply.code(204).send(null);
    },
  });

  app.addContentTypeParser('text/csv', { parseAs: 'buffer', bodyLimit: runtime.config.http.importBodyLimit }, (_request, body, done) => done(null, body));
  app.post('/users/import', {
    config: { roles: ACCESS.directoryWrite },
    bodyLimit: runtime.config.http.importBodyLimit,
    schema: {
      tags,
      summary: 'Import users from CSV',
      description: `${S.IMPORT_DESCRIPTION} Bad rows are reported with their line and field; good rows are created. Send Content-Type: text/csv.`,
      querystring: S.ImportQuery,
      consumes: ['text/csv'],
      response: { 200: S.ImportReport, ...S.adminErrors, 413: S.Problem, 415: S.Problem },
    },
    handler: (request) => {
      // Only the text/csv parser yields a Buffer; JSON or an empty body is the wrong media type, not a server error.
      if (!Buffer.isBuffer(request.body)) throw appError('unsupported_media_type', 'send the CSV file with Content-Type: text/csv');
      return csvImport.run(request.body, actorOf(request), { createGroups: request.query.create_groups ?? false });
    },
  });

  app.get('/changes', {
    config: { roles: ACCESS.directoryWrite },
    schema: {
      tags,
      summary: 'User change records',
      description: 'SPEC.md §5 change records, oldest first, for synchronising nodes and directories. Continue with after_id set to the last id seen.',
      querystring: S.ChangesQuery,
      response: { 200: Type.Object({ items: Type.Array(S.ChangeRecord) }), ...S.adminErrors },
    },
    handler: async (request) => ({ items: await runtime.directory.changesSince(request.query.after_id ?? 0, request.query.limit ?? 100) }),
  });
};
