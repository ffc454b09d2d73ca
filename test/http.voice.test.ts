import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe.each(DIALECTS)('voice calls over HTTP on %s', (dialect) => {
  let t: TestApp;
  let basic: Record<string, string>;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    const { application, secret } = await t.runtime.applications.create({ name: 'Corporate VPN' }, testActor);
    basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}` };
  });
  afterEach(() => t.dispose());

  const admin = async (role: 'global_administrator' | 'reports_reader' = 'global_administrator') => ({ ...(await t.as(role)), 'content-type': 'application/json' });
  const outboxCall = async () => {
    const response = await t.app.inject({ url: '/admin/v1/outbox', headers: await t.as('global_administrator') });
    return response.json<{ items: { id: string; kind: string; to: string; body: string | null; status: string }[] }>().items.find((item) => item.kind === 'call')!;
  };
  const play = async (id: string, payload: object, role: 'global_administrator' | 'reports_reader' = 'global_administrator') => {
    const response = await t.app.inject({ method: 'POST', url: `/admin/v1/outbox/calls/${id}`, headers: await admin(role), payload });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };

  it('sets the call mode of a user, and plays the phone on an outbox call through the admin API', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/v1/users',
      headers: await admin(),
      payload: { username: 'bob@contoso.com', phone: { number: '202 555 0123' }, call_mode: 'pin', pin: '4821' },
    });
    expect(created.json()).toMatchObject({ call_mode: 'pin' });
    const wrongMode = await t.app.inject({ method: 'PATCH', url: '/admin/v1/users/bob@contoso.com', headers: await admin(), payload: { call_mode: 'otp' } });
    expect(wrongMode.statusCode).toBe(400);

    const started = await t.app.inject({ method: 'POST', url: '/auth/v1/auth', headers: basic, payload: { username: 'bob@contoso.com', factor: 'voice', async: true } });
    expect(started.json()).toMatchObject({ result: 'waiting', result_code: null, status_msg: 'waiting for the user on the phone' });
    const call = await outboxCall();
    expect(call).toMatchObject({ to: '+12025550123', status: 'stored', body: expect.stringContaining('enter your PIN') });

    expect(await play(call.id, { action: 'answer' }, 'reports_reader')).toMatchObject({ status: 403 });
    expect(await play(call.id, { action: 'keys' })).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect(await play(call.id, { action: 'keys', keys: 'abc' })).toMatchObject({ status: 400 });
    expect(await play(call.id, { action: 'answer', keys: '1#' })).toMatchObject({ status: 400, body: { detail: 'keys: only with the keys action' } });
    expect(await play('no-such-call', { action: 'answer' })).toMatchObject({ status: 404 });

    expect(await play(call.id, { action: 'answer' })).toMatchObject({ status: 200, body: { waits_for_keys: true, call: { status: 'in-progress' } } });
    expect(await play(call.id, { action: 'keys', keys: '4821#' })).toMatchObject({ status: 200, body: { says: 'You are signed in. Goodbye.', waits_for_keys: false } });
    const status = await t.app.inject({ url: `/auth/v1/auth_status?txid=${started.json<{ txid: string }>().txid}`, headers: basic });
    expect(status.json()).toMatchObject({ result: 'allow', result_code: 'SUCCESS_WITH_PIN' });

    const log = await t.app.inject({ url: '/admin/v1/users/bob@contoso.com/telephony', headers: await t.as('reports_reader') });
    // Ended by its keys: the server hung up, and the log says the call is over.
    expect(log.json<{ items: unknown[] }>().items).toEqual([expect.objectContaining({ kind: 'call', status: 'completed', body: null })]);
  });
});

describe('outbox calls with another gateway', () => {
  it('are refused: only the outbox lets an administrator play the phone', async () => {
    const t = await createTestApp('sqlite', { telephony: { gateway: 'http', http: { url: 'http://127.0.0.1:9/sms' } } });
    try {
      const response = await t.app.inject({ method: 'POST', url: '/admin/v1/outbox/calls/x', headers: { ...(await t.as('global_administrator')), 'content-type': 'application/json' }, payload: { action: 'answer' } });
      expect(response.statusCode).toBe(409);
      // The http gateway sends text messages only: voice is not offered.
      await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
      const { application } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
      const preauth = await t.runtime.engine.preauth({ username: 'bob@contoso.com', application: { id: application.id, name: application.name }, ip: null, authType: 'vpn', entryPoint: 'http_api' });
      expect(preauth.methods.map((method) => method.method)).toEqual(['sms']);
    } finally {
      await t.dispose();
    }
  });
});
