import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listAudit } from '../../../modules/audit/audit.js';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import type { Runtime } from '../../../main.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

/** Admin API keys and the audit log. */
export const adminRoutes = (runtime: Runtime): FastifyPluginAsync => async (plain) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { adminKeys } = runtime;

  app.get('/admin-keys', {
    config: { roles: ACCESS.adminKeys },
    schema: { tags: ['admin keys'], summary: 'List admin API keys', querystring: S.AdminKeyListQuery, response: { 200: Type.Object({ items: Type.Array(S.AdminKey) }), ...S.adminErrors } },
    handler: async (request) => ({ items: await adminKeys.list(request.query.include_revoked ?? false) }),
  });

  app.post('/admin-keys', {
    config: { roles: ACCESS.adminKeys },
    schema: { tags: ['admin keys'], summary: 'Create an admin API key (the secret is shown once)', body: S.AdminKeyCreate, response: { 201: S.AdminKeyCreated, ...S.adminErrors } },
    handler: async (request, reply) => reply.code(201).send(await adminKeys.create(request.body, actorOf(request))),
  });

  app.delete('/admin-keys/:id', {
    config: { roles: ACCESS.adminKeys },
    schema: { tags: ['admin keys'], summary: 'Revoke an admin API key', params: S.AdminKeyParams, response: { 200: S.AdminKey, ...S.adminErrors, 404: S.Problem } },
    handler: (request) => adminKeys.revoke(request.params.id, actorOf(request)),
  });

  app.get('/audit', {
    config: { roles: ACCESS.auditRead },
    schema: { tags: ['audit'], summary: 'Audit log, newest first', querystring: S.AuditQuery, response: { 200: S.pageOf(S.AuditEntry), ...S.adminErrors } },
    handler: (request) => listAudit(runtime.storage.db, { ...request.query, targetId: request.query.target_id }),
  });
};
