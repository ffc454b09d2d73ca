import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe.each(DIALECTS)('text messages over HTTP on %s', (dialect) => {
  let t: TestApp;
  let basic: Record<string, string>;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    const { application, secret } = await t.runtime.applications.create({ name: 'Corporate VPN' }, testActor);
    basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}` };
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
  });
  afterEach(() => t.dispose());

  const post = async (url: string, payload: object) => {
    const response = await t.app.inject({ method: 'POST', url, headers: basic, payload });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };
  const outbox = async (role: 'global_administrator' | 'reports_reader' = 'global_administrator') => {
    const response = await t.app.inject({ url: '/admin/v1/outbox', headers: await t.as(role) });
    return { status: response.statusCode, body: response.json<{ items: { to: string; body: string | null; status: string }[]; next_cursor: string | null }>() };
  };

  it('sends a code through the outbox and authenticates the user who types it', async () => {
    const sent = await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms', ip: '198.51.100.9' });
    expect(sent).toMatchObject({ status: 200, body: { result: 'waiting', result_code: 'SUCCESS_SMS_SENT', prompt: 'Enter the code sent to your phone' } });
    const { body: page } = await outbox();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ to: '+12025550123', status: 'stored' });
    const code = /code is (\d{6})/.exec(page.items[0]!.body!)![1]!;
    const done = await post('/auth/v1/respond', { txid: sent.body.txid, passcode: code });
    expect(done).toMatchObject({ status: 200, body: { result: 'allow', result_code: 'SUCCESS_SMS_SENT', detail: 'successfully completed' } });
  });

  it('sets the OATH and SMS modes of a user, and refuses a mode that does not exist', async () => {
    const admin = { ...(await t.as('global_administrator')), 'content-type': 'application/json' };
    const created = await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: admin, payload: { username: 'eve@contoso.com', sms_mode: 'otp_pin' } });
    expect(created.json()).toMatchObject({ oath_mode: 'standard', sms_mode: 'otp_pin' });
    const updated = await t.app.inject({ method: 'PATCH', url: '/admin/v1/users/eve@contoso.com', headers: admin, payload: { oath_mode: 'pin', sms_mode: 'otp' } });
    expect(updated.json()).toMatchObject({ oath_mode: 'pin', sms_mode: 'otp' });
    const bad = await t.app.inject({ method: 'PATCH', url: '/admin/v1/users/eve@contoso.com', headers: admin, payload: { sms_mode: 'pin' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ detail: string }>().detail).toContain('sms_mode');
  });

  it('keeps codes from report readers: the outbox is for administrators, the user log leaves texts out', async () => {
    await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms' });
    expect((await outbox('reports_reader')).status).toBe(403);
    const log = await t.app.inject({ url: '/admin/v1/users/bob@contoso.com/telephony', headers: await t.as('reports_reader') });
    expect(log.statusCode).toBe(200);
    expect(log.json()).toMatchObject({ items: [{ to: '+12025550123', body: null, gateway: 'outbox', kind: 'sms', direction: 'outbound' }], next_cursor: null });
    expect((await t.app.inject({ url: '/admin/v1/users/nobody/telephony', headers: await t.as('reports_reader') })).statusCode).toBe(404);
  });

  it('pages the outbox and refuses a bad cursor or limit', async () => {
    for (const name of ['ann', 'cyd', 'dee']) {
      await t.runtime.directory.create({ username: `${name}@contoso.com`, phone: { number: '202 555 0199' } }, testActor);
      expect((await post('/auth/v1/auth', { username: `${name}@contoso.com`, factor: 'sms' })).body.result_code).toBe('SUCCESS_SMS_SENT');
    }
    // A second request while the first challenge is open sends nothing.
    expect((await post('/auth/v1/auth', { username: 'ann@contoso.com', factor: 'sms' })).body.result_code).toBe('FAILED_PHONE_BUSY');
    const admin = await t.as('global_administrator');
    type Page = { items: { username: string }[]; next_cursor: string | null };
    const first = (await t.app.inject({ url: '/admin/v1/outbox?limit=2', headers: admin })).json<Page>();
    expect(first.items).toHaveLength(2);
    const second = (await t.app.inject({ url: `/admin/v1/outbox?limit=2&cursor=${first.next_cursor!}`, headers: admin })).json<Page>();
    expect(second.next_cursor).toBeNull();
    expect([...first.items, ...second.items].map((item) => item.username).sort()).toEqual(['ann@contoso.com', 'cyd@contoso.com', 'dee@contoso.com']);
    expect((await t.app.inject({ url: '/admin/v1/outbox?cursor=bogus', headers: admin })).json()).toMatchObject({ code: 'invalid_cursor' });
    expect((await t.app.inject({ url: '/admin/v1/outbox?limit=0', headers: admin })).statusCode).toBe(400);
  });
});
