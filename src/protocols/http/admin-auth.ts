import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { AdminKeys, AuthenticatedKey } from '../../modules/admin-access/admin-keys.js';
import { ROLES, type Role } from '../../modules/admin-access/roles.js';
import { assertMayChangeUser } from '../../modules/admin-access/targets.js';
import type { Actor } from '../../shared/actor.js';
import { appError } from '../../shared/errors.js';

export const ADMIN_PREFIX = '/admin/v1';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Admin roles allowed on the route. Every /admin/v1 route must declare them. */
    roles?: readonly Role[];
  }
  interface FastifyRequest {
    admin: AuthenticatedKey | null;
  }
}

/** An admin route and the roles it allows, as registered. */
export interface AdminRoute {
  method: string;
  url: string;
  roles: readonly Role[];
}

/** The actor an admin request acts as, for audit and change records. */
export function actorOf(request: FastifyRequest): Actor {
  const admin = request.admin;
  if (!admin) throw appError('unauthenticated', 'an admin API key is required');
  return { type: 'api_key', id: admin.id, role: admin.role, requestId: request.id, entryPoint: 'http_admin_api' };
}

/** How the guard finds the user a write names: enough to apply the rule of `admin-access/targets.ts`. */
export type TargetLookup = (username: string) => Promise<{ username: string; admin_role: string | null } | null>;

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Guards every admin route with a bearer API key and the route's declared
 * roles. A route under /admin/v1 without `config.roles` stops start-up: a
 * forgotten declaration must not become an open route.
 *
 * Every write whose path names a user (`:username`), or whose body does
 * (`username`), is also checked against the rule of who may change a user
 * holding an administrator role (`mayChangeUser`), before the body is
 * validated or the handler runs: the rule is applied here once, for every
 * such route, present and future.
 */
export function installAdminAuth(app: FastifyInstance, adminKeys: AdminKeys, targetOf: TargetLookup): AdminRoute[] {
  const catalog: AdminRoute[] = [];
  app.decorateRequest('admin', null);
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith(ADMIN_PREFIX)) return;
    const roles = route.config?.roles;
    if (!roles || roles.length === 0) throw new Error(`admin route ${String(route.method)} ${route.url} declares no roles`);
    const guard = async (request: FastifyRequest) => {
      const header = request.headers.authorization ?? '';
      const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
      // Unknown, malformed and revoked keys get the same answer.
      const admin = token ? await adminKeys.authenticate(token) : null;
      if (!admin) throw appError('unauthenticated', 'a valid admin API key is required (Authorization: Bearer csk_...)');
      if (!roles.includes(admin.role)) throw appError('forbidden', `the ${ROLES[admin.role]} role may not do this`);
      request.admin = admin;
    };
    // onRequest: the key is checked before the body is read or validated, so an
    // unauthenticated caller learns nothing from validation errors and costs no parsing.
    const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
    route.onRequest = [guard, ...existing];
    const method = String(route.method);
    if (WRITES.has(method)) {
      const operation = `${method} ${route.url.slice(ADMIN_PREFIX.length)}`;
      const targetGuard = async (request: FastifyRequest) => {
        const named = (request.params as { username?: unknown }).username ?? (request.body as { username?: unknown } | null)?.username;
        if (typeof named !== 'string' || request.admin?.role !== 'authentication_administrator') return;
        const user = await targetOf(named);
        if (user) assertMayChangeUser(request.admin, user, operation);
      };
      const validating = route.preValidation ? (Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation]) : [];
      route.preValidation = [targetGuard, ...validating];
    }
    catalog.push({ method: String(route.method), url: route.url, roles });
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    schema.security = [{ adminKey: [] }];
    schema.description = `${(schema.description as string | undefined) ?? ''}\n\nRoles: ${roles.map((role) => ROLES[role]).join(', ')}.`.trim();
  });
  return catalog;
}
