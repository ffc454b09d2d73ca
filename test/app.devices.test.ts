import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { webhookNotifier } from '../src/modules/methods/app/push.js';
import { startAppServer } from './helpers/app-server.js';
import { startFakeCarrier } from './helpers/fake-carrier.js';
import { testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

describe.each(DIALECTS)('authenticator devices on %s', (dialect) => {
  let server: Awaited<ReturnType<typeof startAppServer>>;
  afterEach(() => server.close());

  it('are listed, renamed, blocked, unblocked and deleted through the admin API, by the roles allowed', async () => {
    server = await startAppServer(dialect);
    await server.t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const phone = await server.device('bob@contoso.com', 'Bob phone', { oath: true });
    const id = phone.identity.deviceId;
    const base = `${server.url}/admin/v1/users/bob@contoso.com/devices`;
    const call = async (method: string, path: string, body?: object, role: Parameters<typeof server.admin>[0] = 'global_administrator') => {
      const headers = await server.admin(role);
      const response = await fetch(`${base}${path}`, { method, headers: body ? headers : { authorization: headers.authorization! }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: response.status, body: response.status === 204 ? null : ((await response.json()) as Record<string, unknown>) };
    };
    expect(await call('GET', '', undefined, 'reports_reader')).toMatchObject({ status: 200, body: [expect.objectContaining({ id, name: 'Bob phone', status: 'active', oath_token: true })] });
    expect(await call('PATCH', `/${id}`, { name: 'Work phone' }, 'reports_reader')).toMatchObject({ status: 403 });
    expect(await call('PATCH', `/${id}`, { name: 'Work phone' })).toMatchObject({ status: 200, body: { name: 'Work phone' } });
    expect(await call('PATCH', `/${id}`, { name: '' })).toMatchObject({ status: 400 });
    expect(await call('POST', `/${id}/block`, { reason: 'lost' })).toMatchObject({ status: 200, body: { status: 'blocked', blocked_reason: 'lost' } });
    await expect(phone.pushes()).rejects.toMatchObject({ status: 401 });
    // The device's OATH secret still works: the blocked app is offered the OATH fallback.
    expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result: 'waiting', result_code: 'FAILED_PHONE_APP_ALL_DEVICES_BLOCKED', fallback: ['oath'] });
    server.t.clock.advance(310_000);
    expect(await call('POST', `/${id}/unblock`, {})).toMatchObject({ status: 200, body: { status: 'active', missed_pushes: 0 } });
    expect(await call('POST', '/no-such-device/block', { reason: 'x' })).toMatchObject({ status: 404, body: { code: 'device_not_found' } });
    const tokens = () => server.t.runtime.storage.db.selectFrom('oath_tokens').select('id').execute();
    expect(await tokens()).toHaveLength(1);
    expect(await call('DELETE', `/${id}`)).toMatchObject({ status: 204 });
    expect(await call('GET', '')).toMatchObject({ body: [] });
    expect(await tokens()).toEqual([]);
  });

  it('records push-token changes as change records with the old and new token', async () => {
    server = await startAppServer(dialect);
    await server.t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const phone = await server.device('bob@contoso.com', 'Bob phone', { pushToken: 'fcm-token-1' });
    await phone.setPushToken('fcm-token-2');
    await phone.setPushToken('fcm-token-2');
    const changes = await server.t.runtime.storage.db.selectFrom('user_changes').selectAll().where('changed_fields', '=', '["device_token"]').orderBy('id').execute();
    expect(changes.map((change) => [change.old_device_token, change.new_device_token])).toEqual([
      [null, 'fcm-token-1'],
      ['fcm-token-1', 'fcm-token-2'],
    ]);
  });
});

describe('push notifications through a webhook relay', () => {
  it('POST each device with a push token; fail only when none could be notified', async () => {
    const relay = await startFakeCarrier();
    try {
      const notifier = webhookNotifier({ pushWebhookUrl: `${relay.url}/push`, pushWebhookAuthorization: 'Bearer relay-key', pushTimeoutMs: 2000 });
      const message = { challengeId: 'c1', application: 'VPN', expiresAt: Date.UTC(2026, 10, 1) };
      expect(await notifier.notify([{ deviceId: 'd0', pushToken: null }], message)).toEqual({ status: 'sent' });
      expect(relay.requests).toHaveLength(0);
      expect(await notifier.notify([{ deviceId: 'd1', pushToken: 'tok-1' }, { deviceId: 'd2', pushToken: null }], message)).toEqual({ status: 'sent' });
      expect(relay.requests[0]).toMatchObject({ method: 'POST', path: '/push', headers: expect.objectContaining({ authorization: 'Bearer relay-key' }) });
      expect(JSON.parse(relay.requests[0]!.body)).toEqual({ device_id: 'd1', push_token: 'tok-1', challenge_id: 'c1', application: 'VPN', expires_at: '2026-11-01T00:00:00.000Z' });
      relay.respond((_request, response) => response.writeHead(503).end());
      expect(await notifier.notify([{ deviceId: 'd1', pushToken: 'tok-1' }], message)).toEqual({ status: 'failed', error: 'HTTP 503' });
    } finally {
      await relay.close();
    }
  });

  it('needs a relay URL when app.pushGateway is webhook, and an http(s) app.publicUrl', () => {
    expect(() => loadConfig({ overrides: { app: { pushGateway: 'webhook' } } })).toThrow('config key app.pushWebhookUrl: must be an http:// or https:// URL when app.pushGateway is webhook');
    expect(() => loadConfig({ overrides: { app: { publicUrl: 'mfa.example.com' } } })).toThrow('config key app.publicUrl: must be an http:// or https:// URL');
  });
});
