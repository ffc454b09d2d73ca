import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_NAMES, type Role } from '../src/modules/admin-access/roles.js';
import { mayChangeUser } from '../src/modules/admin-access/targets.js';
import { addToken } from './helpers/auth.js';
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

  /**
   * SPEC.md §6: who may change a user holding an administrator role. The
   * expectation comes from the rule (`mayChangeUser`) and the route's roles,
   * for every admin write that names a user, so a route added later is
   * checked without being listed here.
   */
  it('applies the rule for users who hold an administrator role to every write that names a user', async () => {
    const target = await t.runtime.directory.create({ username: 'boss@contoso.com', admin_role: 'global_administrator', phone: { number: '2025550199' } }, { type: 'cli', id: 't', role: null, requestId: null, entryPoint: 'cli' });
    await addToken(t.runtime, target.id);
    const before = JSON.stringify(await snapshot(target.id));
    const writes = t.app.adminRoutes.filter((route) => route.method !== 'GET' && route.url.includes(':username'));
    expect(writes.length).toBeGreaterThanOrEqual(20);
    const wrong: string[] = [];
    for (const role of ['authentication_administrator', 'privileged_authentication_administrator'] as const) {
      for (const route of writes) {
        const operation = `${route.method} ${route.url.slice('/admin/v1'.length)}`;
        const forbidden = !route.roles.includes(role) || !mayChangeUser({ role }, { admin_role: 'global_administrator' }, operation);
        if (!forbidden) continue;
        const url = route.url.replace(':username', 'boss@contoso.com').replace(':id', '0000000000000000').replace(':method', 'phone');
        const response = await t.app.inject({ method: route.method as 'POST', url, headers: headers.get(role)!, payload: {} });
        if (response.statusCode !== 403) wrong.push(`${route.method} ${route.url} as ${role}: ${response.statusCode}`);
      }
    }
    expect(wrong).toEqual([]);
    // The takeover of the review, step by step: none of it goes through.
    const auth = headers.get('authentication_administrator')!;
    for (const [method, url, payload] of [
      ['POST', '/admin/v1/users/boss@contoso.com/oath-tokens', { name: 'mine' }],
      ['POST', '/admin/v1/users/boss@contoso.com/app-passwords', { name: 'mine' }],
      ['POST', '/admin/v1/users/boss@contoso.com/app/activation', {}],
      ['PUT', '/admin/v1/users/boss@contoso.com/security-answers', { answers: [] }],
      ['PATCH', '/admin/v1/users/boss@contoso.com', { mfa_state: 'Disabled' }],
      ['PATCH', '/admin/v1/users/boss@contoso.com', { username: 'renamed@contoso.com' }],
      ['POST', '/admin/v1/users/boss@contoso.com/bypass', { seconds: 600, reason: 'x' }],
      ['PUT', '/admin/v1/users/boss@contoso.com/password', { password: 'correct horse battery' }],
    ] as const) {
      const response = await t.app.inject({ method, url, headers: auth, payload });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json<{ code: string }>().code).toBe('forbidden');
    }
    // Taking access away is allowed.
    expect((await t.app.inject({ method: 'POST', url: '/admin/v1/users/boss@contoso.com/block', headers: auth, payload: { reason: 'suspicious' } })).statusCode).toBe(200);
    const after = await snapshot(target.id);
    expect(JSON.stringify({ ...after, user: { ...after.user, block_id: null } })).toBe(before);
  });

  /** What authenticates a user: the row and every method. */
  async function snapshot(userId: string) {
    const db = t.runtime.storage.db;
    const user = await db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
    const rows = async (table: 'oath_tokens' | 'app_passwords' | 'app_devices' | 'security_answers' | 'bypasses' | 'app_activation_codes') =>
      (await db.selectFrom(table).selectAll().where('user_id', '=', userId).execute()).length;
    return {
      user: { ...user, updated_at: 0 },
      tokens: await rows('oath_tokens'),
      appPasswords: await rows('app_passwords'),
      devices: await rows('app_devices'),
      answers: await rows('security_answers'),
      bypasses: await rows('bypasses'),
      activationCodes: await rows('app_activation_codes'),
    };
  }

  it('a denied write changes nothing and is not audited as done', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: headers.get('reports_reader')!, payload: { username: 'sneaky' } });
    expect(response.statusCode).toBe(403);
    const listed = await t.app.inject({ method: 'GET', url: '/admin/v1/users?search=sneaky', headers: headers.get('reports_reader')! });
    expect(listed.json<{ items: unknown[] }>().items).toEqual([]);
  });
});
