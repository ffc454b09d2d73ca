import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Role } from '../src/modules/admin-access/roles.js';
import { addToken } from './helpers/auth.js';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

describe.each(DIALECTS)('removing a user’s methods on %s', (dialect) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    for (const [username, adminRole] of [
      ['plain@contoso.com', null],
      ['boss@contoso.com', 'global_administrator'],
    ] as const) {
      const user = await t.runtime.directory.create({ username, email: `${username.split('@')[0]}@mail.example`, phone: { number: '2025550150' }, backup_phone: { number: '2025550151' }, admin_role: adminRole }, testActor);
      await addToken(t.runtime, user.id);
    }
  });
  afterEach(() => t.dispose());

  const call = async (role: Role, method: string, url: string, payload?: object) => {
    const headers = await t.as(role);
    const response = await t.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };

  it('lets an Authentication Administrator remove the methods of users without an administrator role only', async () => {
    expect(await call('authentication_administrator', 'DELETE', '/admin/v1/users/plain@contoso.com/methods/phone')).toEqual({ status: 200, body: { method: 'phone', removed: 1 } });
    expect(await call('authentication_administrator', 'DELETE', '/admin/v1/users/plain@contoso.com/methods/phone')).toEqual({ status: 200, body: { method: 'phone', removed: 0 } });
    expect(await call('authentication_administrator', 'DELETE', '/admin/v1/users/plain@contoso.com/methods/email')).toMatchObject({ status: 200, body: { removed: 1 } });
    expect(await call('authentication_administrator', 'DELETE', '/admin/v1/users/plain@contoso.com/methods/oath_tokens')).toMatchObject({ status: 200, body: { removed: 1 } });
    expect(await t.runtime.directory.get('plain@contoso.com')).toMatchObject({ phone: null, email: null, backup_phone: expect.objectContaining({ number: '2025550151' }) });

    for (const method of ['phone', 'backup_phone', 'email', 'oath_tokens']) {
      expect(await call('authentication_administrator', 'DELETE', `/admin/v1/users/boss@contoso.com/methods/${method}`)).toMatchObject({
        status: 403,
        body: { code: 'forbidden', detail: 'an Authentication Administrator may not change boss@contoso.com, who holds the Global Administrator role, other than to block them' },
      });
    }
    // The same through the user update and the token route; such a user is changed by no write of this role at all, but a block.
    expect(await call('authentication_administrator', 'PATCH', '/admin/v1/users/boss@contoso.com', { phone: null })).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    const [token] = await t.runtime.oathTokens.listForUser('boss@contoso.com');
    expect(await call('authentication_administrator', 'DELETE', `/admin/v1/users/boss@contoso.com/oath-tokens/${token!.id}`)).toMatchObject({ status: 403 });
    expect(await call('authentication_administrator', 'PATCH', '/admin/v1/users/boss@contoso.com', { first_name: 'Bo' })).toMatchObject({ status: 403 });
    expect(await call('authentication_administrator', 'PATCH', '/admin/v1/users/plain@contoso.com', { first_name: 'Pl' })).toMatchObject({ status: 200, body: { first_name: 'Pl' } });
    expect(await t.runtime.directory.get('boss@contoso.com')).toMatchObject({ phone: expect.objectContaining({ number: '2025550150' }), email: 'boss@mail.example' });
  });

  it('lets a Privileged Authentication Administrator remove anyone’s methods, and never a Reports Reader', async () => {
    for (const method of ['phone', 'backup_phone', 'email', 'oath_tokens', 'app_devices', 'security_questions', 'app_passwords']) {
      const expected = ['phone', 'backup_phone', 'email', 'oath_tokens'].includes(method) ? 1 : 0;
      expect(await call('privileged_authentication_administrator', 'DELETE', `/admin/v1/users/boss@contoso.com/methods/${method}`)).toEqual({ status: 200, body: { method, removed: expected } });
      expect(await call('reports_reader', 'DELETE', `/admin/v1/users/plain@contoso.com/methods/${method}`)).toMatchObject({ status: 403 });
    }
    expect(await t.runtime.directory.get('boss@contoso.com')).toMatchObject({ phone: null, backup_phone: null, email: null });
    expect(await call('privileged_authentication_administrator', 'DELETE', '/admin/v1/users/boss@contoso.com/methods/fax')).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
  });

  it('lets only a Global Administrator assign administrator roles', async () => {
    expect(await call('privileged_authentication_administrator', 'PATCH', '/admin/v1/users/plain@contoso.com', { admin_role: 'reports_reader' })).toMatchObject({
      status: 403,
      body: { detail: 'admin_role: only a Global Administrator assigns administrator roles' },
    });
    expect(await call('global_administrator', 'PATCH', '/admin/v1/users/plain@contoso.com', { admin_role: 'reports_reader' })).toMatchObject({ status: 200, body: { admin_role: 'reports_reader' } });
    expect(await call('authentication_administrator', 'DELETE', '/admin/v1/users/plain@contoso.com/methods/phone')).toMatchObject({ status: 403 });
    expect(await call('global_administrator', 'PATCH', '/admin/v1/users/plain@contoso.com', { admin_role: null })).toMatchObject({ status: 200, body: { admin_role: null } });
    expect(await call('authentication_administrator', 'DELETE', '/admin/v1/users/plain@contoso.com/methods/phone')).toMatchObject({ status: 200 });
  });
});
