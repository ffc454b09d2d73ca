import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_NAMES, type Role } from '../src/modules/admin-access/roles.js';
import { createTestApp } from './helpers/runtime.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/**
 * Walks every admin route the server registers with every role, and with no
 * key, a malformed key and a revoked key. A route a role may use must not
 * answer 401/403; a route it may not use must answer 403 before touching the body.
 */
describe('role × route', () => {
  let t: TestApp;
  const headers = new Map<Role, Record<string, string>>();
  let revoked: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    for (const role of ROLE_NAMES) headers.set(role, await t.as(role));
    const { key, secret } = await t.runtime.adminKeys.create({ name: 'to revoke', role: 'global_administrator' }, { type: 'cli', id: 't', role: null, requestId: null, entryPoint: 'cli' });
    await t.runtime.adminKeys.revoke(key.id, { type: 'cli', id: 't', role: null, requestId: null, entryPoint: 'cli' });
    revoked = { authorization: `Bearer ${secret}` };
  });
  afterAll(() => t.dispose());

  const concrete = (url: string) => url.replace(':username', 'nobody').replace(':name', 'nogroup').replace(':id', '0000000000000000').replace(':serial', 'NOSERIAL');

  it('covers a known set of routes', () => {
    expect(t.app.adminRoutes.length).toBeGreaterThanOrEqual(16);
    for (const route of t.app.adminRoutes) expect(route.roles.length, `${route.method} ${route.url}`).toBeGreaterThan(0);
  });

  it('allows and denies each role exactly as each route declares', async () => {
    const outcomes: string[] = [];
    for (const route of t.app.adminRoutes) {
      for (const role of ROLE_NAMES) {
        const response = await t.app.inject({ method: route.method as 'GET', url: concrete(route.url), headers: headers.get(role)! });
        const allowed = route.roles.includes(role);
        const denied = response.statusCode === 403 || response.statusCode === 401;
        if (allowed === denied) outcomes.push(`${route.method} ${route.url} as ${role}: ${response.statusCode} (allowed: ${allowed})`);
        if (!allowed) expect(response.json<{ code: string }>().code).toBe('forbidden');
      }
    }
    expect(outcomes).toEqual([]);
  });

  it('refuses every route without a valid key', async () => {
    for (const route of t.app.adminRoutes) {
      for (const auth of [{}, { authorization: 'Bearer csk_nope' }, { authorization: 'Basic abc' }, revoked]) {
        const response = await t.app.inject({ method: route.method as 'GET', url: concrete(route.url), headers: auth });
        expect(response.statusCode, `${route.method} ${route.url}`).toBe(401);
        expect(response.json<{ code: string }>().code).toBe('unauthenticated');
      }
    }
  });

  it('a denied write changes nothing and is not audited as done', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: headers.get('reports_reader')!, payload: { username: 'sneaky' } });
    expect(response.statusCode).toBe(403);
    const listed = await t.app.inject({ method: 'GET', url: '/admin/v1/users?search=sneaky', headers: headers.get('reports_reader')! });
    expect(listed.json<{ items: unknown[] }>().items).toEqual([]);
  });
});
