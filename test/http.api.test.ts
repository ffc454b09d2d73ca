import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe.each(DIALECTS)('admin API on %s', (dialect) => {
  let t: TestApp;
  let admin: Record<string, string>;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    admin = await t.as('global_administrator');
  });
  afterEach(() => t.dispose());

  const call = async <T = Record<string, unknown>>(method: string, url: string, payload?: unknown, headers = admin) => {
    const response = await t.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: response.statusCode, body: (response.body ? response.json() : null) as T, headers: response.headers };
  };

  it('creates, reads, updates, lists and deletes a user', async () => {
    expect((await call('POST', '/admin/v1/groups', { name: 'VPN' })).status).toBe(201);
    const created = await call('POST', '/admin/v1/users', {
      username: 'dana@contoso.com',
      first_name: 'Dana',
      phone: { country_code: '1', number: '202 555 0147', extension: '12#' },
      groups: ['vpn'],
      pin: '2468',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'dana@contoso.com', groups: ['VPN'], pin_set: true, phone: { number: '2025550147', extension: '12#' } });
    expect(created.body).not.toHaveProperty('pin');
    expect((await call('GET', '/admin/v1/users/DANA%40contoso.com')).body).toMatchObject({ first_name: 'Dana' });
    const patched = await call('PATCH', '/admin/v1/users/dana@contoso.com', { mfa_state: 'Enforced', phone: null, pin: null });
    expect(patched.body).toMatchObject({ mfa_state: 'Enforced', phone: null, pin_set: false });
    const listed = await call<{ items: { username: string }[]; next_cursor: string | null }>('GET', '/admin/v1/users?search=dana&limit=10');
    expect(listed.body.items.map((user) => user.username)).toEqual(['dana@contoso.com']);
    expect((await call('DELETE', '/admin/v1/users/dana@contoso.com')).status).toBe(204);
    expect((await call('GET', '/admin/v1/users/dana@contoso.com')).status).toBe(404);
  });

  it('imports CSV over HTTP and reports bad rows', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/admin/v1/users/import?create_groups=true',
      headers: { ...admin, 'content-type': 'text/csv' },
      payload: 'username,phone_number,groups\nok1,2025550101,Sales\nbad,12,\nok2,,Sales;Ops\n',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ rows: 3, created: 2, failed: 1, groups_created: ['Sales', 'Ops'], errors: [{ line: 3, field: 'phone.number', code: 'invalid_phone_number' }] });
    expect((await call('GET', '/admin/v1/groups/sales')).body).toMatchObject({ name: 'Sales', member_count: 2 });
    const groups = await call<{ items: { name: string; member_count: number }[] }>('GET', '/admin/v1/groups');
    expect(groups.body.items.map((group) => [group.name, group.member_count])).toEqual([
      ['Ops', 1],
      ['Sales', 2],
    ]);
    const searched = await call<{ items: { name: string }[] }>('GET', '/admin/v1/groups?search=ALE');
    expect(searched.body.items.map((group) => group.name)).toEqual(['Sales']);
  });

  it('manages groups and their members', async () => {
    await call('POST', '/admin/v1/users', { username: 'gus' });
    await call('POST', '/admin/v1/groups', { name: 'Ops', description: 'operations' });
    expect((await call('POST', '/admin/v1/groups', { name: 'ops' })).status).toBe(409);
    expect((await call('POST', '/admin/v1/groups/ops/members', { usernames: ['gus'] })).body).toMatchObject({ member_count: 1 });
    expect((await call('POST', '/admin/v1/groups/ops/members', { usernames: ['nobody'] })).status).toBe(404);
    expect((await call('PATCH', '/admin/v1/groups/ops', { name: 'Operations' })).body).toMatchObject({ name: 'Operations' });
    expect((await call('GET', '/admin/v1/users/gus')).body).toMatchObject({ groups: ['Operations'] });
    expect((await call('DELETE', '/admin/v1/groups/operations/members/gus')).status).toBe(204);
    expect((await call('DELETE', '/admin/v1/groups/operations/members/gus')).status).toBe(404);
    expect((await call<{ items: unknown[] }>('GET', '/admin/v1/groups')).body.items).toHaveLength(1);
    expect((await call('DELETE', '/admin/v1/groups/operations')).status).toBe(204);
    expect((await call('GET', '/admin/v1/groups/operations')).status).toBe(404);
  });

  it('issues admin keys once, records their use, and revokes them at once', async () => {
    const created = await call<{ key: { id: string; role: string }; secret: string }>('POST', '/admin/v1/admin-keys', { name: 'reporting', role: 'reports_reader' });
    expect(created.status).toBe(201);
    const reader = { authorization: `Bearer ${created.body.secret}` };
    expect((await call('GET', '/admin/v1/users', undefined, reader)).status).toBe(200);
    const listed = await call<{ items: { id: string; last_used_at: string | null }[] }>('GET', '/admin/v1/admin-keys');
    expect(listed.body.items.find((key) => key.id === created.body.key.id)?.last_used_at).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);
    expect((await call('DELETE', `/admin/v1/admin-keys/${created.body.key.id}`)).body).toMatchObject({ revoked_at: expect.any(String) });
    expect((await call('GET', '/admin/v1/users', undefined, reader)).status).toBe(401);
    expect((await call<{ items: unknown[] }>('GET', '/admin/v1/admin-keys?include_revoked=true')).body.items).toHaveLength(2);
    expect((await call('DELETE', '/admin/v1/admin-keys/ffffffffffffffff')).status).toBe(404);
  });

  it('audits every admin action with the key and request id', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: { ...admin, 'x-request-id': 'req-42' }, payload: { username: 'audited' } });
    await call('PATCH', '/admin/v1/users/audited', { first_name: 'A' });
    await call('DELETE', '/admin/v1/users/audited');
    const audit = await call<{ items: { action: string; actor: { type: string; role: string }; request_id: string; target_id: string; entry_point: string }[] }>('GET', '/admin/v1/audit?limit=3');
    expect(audit.body.items.map((entry) => entry.action)).toEqual(['user.delete', 'user.update', 'user.create']);
    expect(audit.body.items[2]).toMatchObject({ actor: { type: 'api_key', role: 'global_administrator' }, request_id: 'req-42', target_id: created.json<{ id: string }>().id, entry_point: 'http_admin_api' });
    const filtered = await call<{ items: unknown[] }>('GET', '/admin/v1/audit?action=user.update');
    expect(filtered.body.items).toHaveLength(1);
  });

  it('serves the change feed for synchronisation in order', async () => {
    await call('POST', '/admin/v1/users', { username: 'sync1', phone: { number: '2025550100' } });
    await call('PATCH', '/admin/v1/users/sync1', { pin: '1357', pin_change_required: true });
    const feed = await call<{ items: { id: number; change_type: string; new_phone_number: string | null; new_pin_hash: string | null; pin_change_required: boolean }[] }>('GET', '/admin/v1/changes?after_id=0');
    expect(feed.body.items.map((item) => item.change_type)).toEqual(['create', 'update']);
    expect(feed.body.items[0]!.new_phone_number).toBe('2025550100');
    expect(feed.body.items[1]).toMatchObject({ new_phone_number: null, pin_change_required: true, new_pin_hash: expect.any(String) });
    const after = await call<{ items: unknown[] }>('GET', `/admin/v1/changes?after_id=${feed.body.items[0]!.id}`);
    expect(after.body.items).toHaveLength(1);
  });
});

describe('operations endpoints', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp('sqlite');
  });
  afterEach(() => t.dispose());

  it('answers liveness and readiness, and readiness fails when the database does not', async () => {
    expect((await t.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
    await t.runtime.storage.close();
    const down = await t.app.inject({ url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ code: 'database_unavailable' });
    expect(down.headers['retry-after']).toBe('2');
  });

  it('marks every answer not to be cached, sniffed or framed, above all those that carry a secret', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-keys', headers: await t.as('global_administrator'), payload: { name: 'reporting', role: 'reports_reader' } });
    expect(created.statusCode).toBe(201);
    for (const response of [created, await t.app.inject({ url: '/healthz' }), await t.app.inject({ url: '/admin/v1/users' })]) {
      expect(response.headers).toMatchObject({
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      });
    }
  });

  it('exposes Prometheus metrics with per-route request counts', async () => {
    await t.app.inject({ url: '/healthz' });
    const metrics = await t.app.inject({ url: '/metrics' });
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toMatch(/countersign_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    expect(metrics.body).toContain('countersign_http_request_duration_seconds_bucket');
    expect(metrics.body).toContain('countersign_process_cpu_seconds_total');
  });

  it('exposes the SQLite read cache in the metrics', async () => {
    await t.runtime.directory.create({ username: 'alice@contoso.com' }, testActor);
    const { application } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
    await t.runtime.engine.preauth({ username: 'alice@contoso.com', application, ip: null, authType: 'vpn', entryPoint: 'http_api' });
    const body = (await t.app.inject({ url: '/metrics' })).body;
    expect(body).toMatch(/countersign_read_cache_entries [1-9]/);
    expect(body).toMatch(/countersign_read_cache_misses [1-9]/);
  });

  it('publishes an OpenAPI 3.1 document covering every route', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json<{ openapi: string; paths: Record<string, Record<string, { security?: unknown; description?: string }>> }>();
    expect(doc.openapi).toBe('3.1.0');
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`)));
    const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');
    for (const route of t.app.adminRoutes) {
      expect(documented, route.url).toContain(`${route.method} ${openApiPath(route.url)}`);
      const operation = doc.paths[openApiPath(route.url)]![route.method.toLowerCase()]!;
      expect(operation.security).toEqual([{ adminKey: [] }]);
      expect(operation.description).toMatch(/Roles: /);
    }
    const others = ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'GET /auth/v1/check', 'POST /auth/v1/preauth', 'POST /auth/v1/auth', 'POST /auth/v1/respond', 'GET /auth/v1/auth_status', 'POST /telephony/v1/twilio/status', 'POST /telephony/v1/twilio/sms', 'POST /telephony/v1/twilio/voice', 'POST /telephony/v1/twilio/voice/keys', 'POST /telephony/v1/twilio/voice/status', 'POST /app/v1/activate', 'GET /app/v1/challenges', 'POST /app/v1/challenges/{txid}/answer', 'GET /app/v1/device', 'PUT /app/v1/device/push-token', 'GET /app/v1/time', 'POST /app/v1/device/activation',
      'GET /self/v1/registration', 'GET /self/v1/security-questions', 'PUT /self/v1/registration/email', 'DELETE /self/v1/registration/email', 'PUT /self/v1/registration/security-questions', 'DELETE /self/v1/registration/security-questions',
      'POST /self/v1/password-reset', 'GET /self/v1/password-reset/{id}', 'POST /self/v1/password-reset/{id}/verify', 'POST /self/v1/password-reset/{id}/password'];
    for (const path of others) expect(documented).toContain(path);
    expect(documented.size).toBe(t.app.adminRoutes.length + others.length);
    expect(doc.paths['/auth/v1/auth']!.post!.security).toEqual([{ application: [] }]);
    expect(doc.paths['/self/v1/registration']!.get!.security).toEqual([{ userPassword: [] }]);
  });

  it('describes every error answer as a problem document, with the errors any route can give', async () => {
    type Responses = Record<string, { content?: Record<string, unknown> }>;
    const doc = (await t.app.inject({ url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { responses: Responses }>> }>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400 && response.content) expect(Object.keys(response.content), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        }
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['408', '431', '503']));
      }
    }
    expect(Object.keys(doc.paths['/admin/v1/users']!.post!.responses)).toEqual(expect.arrayContaining(['400', '413', '415']));
    expect(Object.keys(doc.paths['/admin/v1/users/{username}']!.get!.responses)).toEqual(expect.arrayContaining(['404', '414']));
  });
});
