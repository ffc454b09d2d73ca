import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addToken } from './helpers/auth.js';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/** Conditional access over the admin API, and the Auth API fields that take part in it. */
describe.each(DIALECTS)('conditional access over HTTP on %s', (dialect) => {
  let t: TestApp;
  let admin: Record<string, string>;
  let basic: Record<string, string>;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    admin = await t.as('global_administrator');
    const { application, secret } = await t.runtime.applications.create({ name: 'Mail' }, testActor);
    basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}` };
  });
  afterEach(() => t.dispose());

  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers = admin) => {
    const response = await t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: response.statusCode, body: response.body ? response.json<Record<string, unknown>>() : null };
  };

  it('creates, reads, changes and deletes named locations, refusing bad ranges and a location in use', async () => {
    const created = await call('POST', '/admin/v1/named-locations', { name: 'Office', ranges: ['192.0.2.0/24', ' 2001:db8::/48'], trusted: true });
    expect(created).toMatchObject({ status: 201, body: { name: 'Office', ranges: ['192.0.2.0/24', '2001:db8::/48'], trusted: true } });
    expect(await call('POST', '/admin/v1/named-locations', { name: 'office', ranges: ['198.51.100.0/24'] })).toMatchObject({ status: 409, body: { code: 'named_location_name_taken' } });
    expect(await call('POST', '/admin/v1/named-locations', { name: 'Bad', ranges: ['192.0.2.0/33'] })).toMatchObject({ status: 400, body: { code: 'validation_failed', detail: 'ranges[0]: "192.0.2.0/33" is not an IP address or CIDR block' } });
    expect(await call('POST', '/admin/v1/named-locations', { name: 'Bad', ranges: [] })).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect(await call('PATCH', '/admin/v1/named-locations/Office', { trusted: false })).toMatchObject({ status: 200, body: { trusted: false } });
    expect((await call('GET', '/admin/v1/named-locations')).body).toMatchObject({ items: [{ name: 'Office' }] });

    await call('POST', '/admin/v1/policies', { name: 'Office only', users: { include: ['all'] }, locations: { include: ['Office'] }, grant: 'allow' });
    expect(await call('DELETE', '/admin/v1/named-locations/Office')).toMatchObject({ status: 409, body: { code: 'named_location_in_use', detail: 'named location Office is used by policy Office only' } });
    await call('DELETE', '/admin/v1/policies/Office only');
    expect((await call('DELETE', '/admin/v1/named-locations/Office')).status).toBe(204);
    expect(await call('GET', '/admin/v1/named-locations/Office')).toMatchObject({ status: 404, body: { code: 'named_location_not_found' } });
  });

  it('creates policies by name, shows them by name, and refuses what is wrong with a message naming the field', async () => {
    await t.runtime.directory.create({ username: 'alice@contoso.com' }, testActor);
    await t.runtime.groups.create({ name: 'Staff' }, testActor);
    const created = await call('POST', '/admin/v1/policies', {
      name: 'Staff need MFA',
      users: { exclude: ['Alice@Contoso.com'] },
      groups: { include: ['Staff'] },
      applications: { include: ['Mail'] },
      client_types: ['modern'],
      grant: 'mfa',
      remember_mfa_days: 14,
    });
    expect(created).toMatchObject({
      status: 201,
      body: {
        name: 'Staff need MFA',
        state: 'enabled',
        users: { include: [], exclude: ['alice@contoso.com'] },
        groups: { include: ['Staff'], exclude: [] },
        applications: { include: ['Mail'], exclude: [] },
        locations: { include: ['any'], exclude: [] },
        client_types: ['modern'],
        device_states: ['registered', 'unregistered'],
        grant: 'mfa',
        remember_mfa_days: 14,
      },
    });
    expect(await call('PATCH', '/admin/v1/policies/Staff need MFA', { grant: 'block' })).toMatchObject({ status: 200, body: { grant: 'block', remember_mfa_days: null, groups: { include: ['Staff'] } } });
    expect((await call('GET', '/admin/v1/policies')).body).toMatchObject({ items: [{ name: 'Staff need MFA', grant: 'block' }] });

    const refused = async (body: Record<string, unknown>) => (await call('POST', '/admin/v1/policies', { name: 'P', grant: 'mfa', users: { include: ['all'] }, ...body })).body;
    expect(await refused({ groups: { include: ['Nobody'] } })).toMatchObject({ code: 'validation_failed', detail: 'groups.include: group Nobody does not exist' });
    expect(await refused({ users: { include: ['ghost@contoso.com'] } })).toMatchObject({ code: 'validation_failed', detail: 'users.include: user ghost@contoso.com does not exist' });
    expect(await refused({ users: {} })).toMatchObject({ code: 'validation_failed', detail: 'users.include: name the users or groups the policy applies to (or "all")' });
    expect(await refused({ grant: 'allow', remember_mfa_days: 3 })).toMatchObject({ code: 'validation_failed', detail: 'remember_mfa_days: only a policy that requires MFA can remember it' });
    expect(await refused({ locations: { exclude: ['any'] } })).toMatchObject({ code: 'validation_failed', detail: 'locations.exclude: "any" can only be included' });
    expect(await refused({ locations: { include: ['Mars'] } })).toMatchObject({ code: 'validation_failed', detail: 'locations.include: named location Mars does not exist' });
    expect(await refused({ grant: 'maybe' })).toMatchObject({ code: 'validation_failed' });
    expect(await refused({ surprise: 1 })).toMatchObject({ code: 'validation_failed' });
    expect(await refused({ name: 'staff NEED mfa' })).toMatchObject({ code: 'policy_name_taken' });
    expect(await call('DELETE', '/admin/v1/policies/nope')).toMatchObject({ status: 404, body: { code: 'policy_not_found' } });
    expect((await call('GET', '/admin/v1/policies', undefined, await t.as('reports_reader'))).status).toBe(200);
    expect((await call('POST', '/admin/v1/policies', { name: 'X', grant: 'block', users: { include: ['all'] } }, await t.as('authentication_administrator'))).status).toBe(403);
  });

  it('drops a deleted user from the policies that named them', async () => {
    await t.runtime.directory.create({ username: 'alice@contoso.com' }, testActor);
    await call('POST', '/admin/v1/policies', { name: 'Alice', users: { include: ['alice@contoso.com'] }, grant: 'mfa' });
    await t.runtime.directory.delete('alice@contoso.com', testActor);
    expect((await call('GET', '/admin/v1/policies/Alice')).body).toMatchObject({ users: { include: [], exclude: [] } });
    expect(await t.runtime.storage.db.selectFrom('access_policy_users').selectAll().execute()).toEqual([]);
  });

  it('manages app passwords, and a legacy client signs in with one through the Auth API', async () => {
    const bob = await t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    await addToken(t.runtime, bob.id);
    const created = await call('POST', '/admin/v1/users/bob@contoso.com/app-passwords', { name: 'Old mail client' });
    expect(created).toMatchObject({ status: 201, body: { name: 'Old mail client', password: expect.stringMatching(/^[a-z]{16}$/), last_used_at: null } });
    const password = created.body!.password as string;

    const refused = await call('POST', '/auth/v1/auth', { username: 'bob@contoso.com', app_password: password }, basic);
    expect(refused).toMatchObject({ status: 400, body: { code: 'validation_failed', detail: 'app_password: app passwords are for legacy clients only (client_type legacy)' } });
    expect(await call('POST', '/auth/v1/auth', { username: 'bob@contoso.com', client_type: 'legacy', app_password: password.toUpperCase() }, basic)).toMatchObject({
      status: 200,
      body: { result: 'allow', detail: 'skipped due to app password' },
    });
    const listed = await call('GET', '/admin/v1/users/bob@contoso.com/app-passwords');
    expect(listed.body).toMatchObject({ items: [{ name: 'Old mail client', last_used_at: expect.any(String) }] });
    expect(JSON.stringify(listed.body)).not.toContain(password);
    const id = (listed.body!.items as { id: string }[])[0]!.id;
    expect((await call('DELETE', `/admin/v1/users/bob@contoso.com/app-passwords/${id}`)).status).toBe(204);
    expect(await call('DELETE', `/admin/v1/users/bob@contoso.com/app-passwords/${id}`)).toMatchObject({ status: 404, body: { code: 'app_password_not_found' } });
    expect((await call('POST', '/admin/v1/users/bob@contoso.com/app-passwords', { name: 'x' }, await t.as('reports_reader'))).status).toBe(403);
  });

  it('remembers MFA over the Auth API, and forgets every device when an administrator revokes them', async () => {
    const bob = await t.runtime.directory.create({ username: 'bob@contoso.com', mfa_state: 'Disabled' }, testActor);
    const token = await addToken(t.runtime, bob.id);
    await call('POST', '/admin/v1/policies', { name: 'Remember a day', users: { include: ['all'] }, grant: 'mfa', remember_mfa_days: 1 });
    const first = await call('POST', '/auth/v1/auth', { username: 'bob@contoso.com', passcode: token.code(t.clock.now()), remember: true, device_id: 'browser-1' }, basic);
    expect(first.body).toMatchObject({ result: 'allow', remember_token: expect.any(String), remember_expires_at: expect.any(String) });
    const again = { username: 'bob@contoso.com', remember_token: first.body!.remember_token };
    expect((await call('POST', '/auth/v1/preauth', again, basic)).body).toMatchObject({ result: 'allow', detail: 'skipped due to remembered device' });
    t.clock.advance(1000);
    expect((await call('POST', '/admin/v1/users/bob@contoso.com/remembered-devices/revoke', {})).body).toMatchObject({ revoked_at: new Date(t.clock.now()).toISOString() });
    t.clock.advance(1000);
    expect((await call('POST', '/auth/v1/preauth', again, basic)).body).toMatchObject({ result: 'auth' });

    const signins = await call('GET', '/admin/v1/signins?policy=remembered_device');
    expect(signins.body).toMatchObject({ items: [{ detail: 'skipped due to remembered device', client_type: 'modern' }] });
    const detail = await call('GET', `/admin/v1/signins/${(signins.body!.items as { id: number }[])[0]!.id}`);
    expect(detail.body).toMatchObject({
      conditional_access: expect.arrayContaining([
        { rule: 'conditional_access', policy: 'Remember a day', applied: true, outcome: 'continue', code: 'policy_applied', details: { grant: 'mfa' }, reason: expect.any(String) },
        { rule: 'remembered_device', outcome: 'allow', code: 'device_remembered', details: { until: expect.any(String) }, reason: expect.any(String) },
      ]),
    });
    const bad = await call('POST', '/auth/v1/auth', { username: 'bob@contoso.com', client_type: 'ancient' }, basic);
    expect(bad).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
  });

  it('says enroll over the Auth API for a user with no method', async () => {
    await t.runtime.directory.create({ username: 'new@contoso.com' }, testActor);
    expect((await call('POST', '/auth/v1/preauth', { username: 'new@contoso.com' }, basic)).body).toMatchObject({ result: 'enroll', detail: 'registration prompted' });
    expect((await call('POST', '/auth/v1/auth', { username: 'new@contoso.com' }, basic)).body).toMatchObject({ result: 'enroll', detail: 'registration prompted' });
  });
});
