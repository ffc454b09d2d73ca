import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import type { Runtime } from '../../../main.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

const tags = ['groups'];

export const groupRoutes = (runtime: Runtime): FastifyPluginAsync => async (plain) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { groups } = runtime;
  const notFound = { 404: S.Problem };

  app.get('/groups', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags, summary: 'List groups', querystring: S.GroupListQuery, response: { 200: S.pageOf(S.Group), ...S.adminErrors } },
    handler: (request) => groups.list(request.query),
  });

  app.post('/groups', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Create a group', body: S.GroupCreate, response: { 201: S.Group, ...S.adminErrors, 409: S.Problem } },
    handler: async (request, reply) => reply.code(201).send(await groups.create(request.body, actorOf(request))),
  });

  app.get('/groups/:name', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags, summary: 'Read a group', params: S.GroupParams, response: { 200: S.Group, ...S.adminErrors, ...notFound } },
    handler: (request) => groups.get(request.params.name),
  });

  app.patch('/groups/:name', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Rename or describe a group', params: S.GroupParams, body: S.GroupUpdate, response: { 200: S.Group, ...S.adminErrors, ...notFound, 409: S.Problem } },
    handler: (request) => groups.update(request.params.name, request.body, actorOf(request)),
  });

  app.delete('/groups/:name', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Delete a group (its users stay)', params: S.GroupParams, response: { 204: Type.Null(), ...S.adminErrors, ...notFound } },
    handler: async (request, reply) => {
      await groups.delete(request.params.name, actorOf(request));
      return reply.code(204).send(null);
    },
  });

  app.post('/groups/:name/members', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Add users to a group', params: S.GroupParams, body: S.GroupMembersAdd, response: { 200: S.Group, ...S.adminErrors, ...notFound } },
    handler: (request) => groups.addMembers(request.params.name, request.body.usernames, actorOf(request)),
  });

  app.delete('/groups/:name/members/:username', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Remove a user from a group', params: S.GroupMemberParams, response: { 204: Type.Null(), ...S.adminErrors, ...notFound } },
    handler: async (request, reply) => {
      await groups.removeMember(request.params.name, request.params.username, actorOf(request));
      return reply.code(204).send(null);
    },
  });
};
