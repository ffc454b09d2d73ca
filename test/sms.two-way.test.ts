import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticatedApplication } from '../src/modules/applications/applications.js';
import { replyThroughOutbox } from '../src/modules/telephony/outbox.js';
import { createTestApp, createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const PHONE = '+12025550123';

async function lastText(t: TestRuntime): Promise<{ body: string; code: string }> {
  const sent = (await t.runtime.telephony.list({ gateway: 'outbox' })).items.find((item) => item.direction === 'outbound')!;
  return { body: sent.body!, code: /reply with (\d{6})/.exec(sent.body!)![1]! };
}

describe.each(DIALECTS)('two-way SMS on %s', (dialect) => {
  let t: TestRuntime;
  afterEach(() => t.dispose());

  async function fixture(fields: Record<string, unknown> = {}) {
    const { application: view } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
    const application: AuthenticatedApplication = { id: view.id, name: view.name };
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' }, sms_direction: 'two_way', ...fields }, testActor);
    const auth = () => t.runtime.engine.auth({ username: 'bob@contoso.com', application, ip: null, authType: 'vpn', entryPoint: 'http_api', factor: 'auto' });
    return { application, auth };
  }
  const reply = (text: string, from = PHONE) => replyThroughOutbox(t.runtime.telephony, t.runtime.engine, from, text);

  it('authenticates the user who replies with the code (SUCCESS_SMS_AUTHENTICATED)', async () => {
    t = await createTestRuntime(dialect, { sms: { maxOtpAttempts: 3 } });
    const { application, auth } = await fixture();
    const sent = await auth();
    // Nothing to type into the application: the answer comes from the phone.
    expect(sent).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_SMS_SENT' });
    expect(sent.prompt).toBeUndefined();
    const { body, code } = await lastText(t);
    expect(body).toBe(`To sign in, reply with ${code}. If you are not signing in, ignore this message.`);
    await expect(t.runtime.engine.respond(application, sent.txid!, { passcode: code })).rejects.toThrow('answered by a reply to the text message');
    expect(await reply('000000' === code ? '000001' : '000000')).toMatchObject({ txid: sent.txid, result: 'waiting', result_code: 'FAILED_SMS_OTP_INCORRECT' });
    expect(await reply(` ${code} `)).toMatchObject({ txid: sent.txid, result: 'allow', result_code: 'SUCCESS_SMS_AUTHENTICATED', detail: 'successfully completed' });
    const attempt = await t.runtime.storage.db.selectFrom('auth_attempts').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(attempt).toMatchObject({ method: 'sms', sms_direction: 'two_way', sms_mode: 'otp', result: 'SUCCESS_SMS_AUTHENTICATED' });
    // The challenge has ended: a late reply finds nothing waiting.
    expect(await reply(code)).toBeNull();
    const inbound = (await t.runtime.telephony.list({ gateway: 'outbox' })).items.filter((item) => item.direction === 'inbound');
    expect(inbound).toHaveLength(3);
    expect(inbound[0]).toMatchObject({ username: 'bob@contoso.com', to: PHONE, status: 'received' });
  });

  it('asks for the code and the PIN in the reply in OTP + PIN mode', async () => {
    t = await createTestRuntime(dialect, { sms: { maxOtpAttempts: 1 } });
    const { auth } = await fixture({ sms_mode: 'otp_pin', pin: '2468' });
    await auth();
    const { body, code } = await lastText(t);
    expect(body).toContain('followed by your PIN');
    expect(await reply(`${code}2469`)).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_OTP_PIN_INCORRECT' });
    t.clock.advance(1000);
    await auth();
    expect(await reply(`${(await lastText(t)).code} 2468`)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_AUTHENTICATED' });
  });

  it('ignores replies from a phone no challenge waits for, and one-way challenges', async () => {
    t = await createTestRuntime(dialect);
    const { auth } = await fixture({ sms_direction: 'one_way' });
    await auth();
    expect(await reply('123456')).toBeNull();
    t.clock.advance(1000); // the log lists newest first
    expect(await reply('123456', '+447911123456')).toBeNull();
    expect((await t.runtime.telephony.list({})).items[0]).toMatchObject({ username: '(unknown sender)', direction: 'inbound' });
  });
});

describe('two-way SMS over HTTP (sqlite)', () => {
  it('answers a synchronous /auth once the reply arrives', async () => {
    const t = await createTestApp('sqlite');
    try {
      const { application, secret } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
      const basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}` };
      await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' }, sms_direction: 'two_way' }, testActor);
      const pending = t.app.inject({ method: 'POST', url: '/auth/v1/auth', headers: basic, payload: { username: 'bob@contoso.com' } });
      let code: string | undefined;
      for (let tries = 0; tries < 200 && !code; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        code = /reply with (\d{6})/.exec((await t.runtime.telephony.list({})).items[0]?.body ?? '')?.[1];
      }
      const admin = await t.as('authentication_administrator');
      const replied = await t.app.inject({ method: 'POST', url: '/admin/v1/outbox/replies', headers: admin, payload: { from: PHONE, body: code! } });
      expect(replied.json()).toMatchObject({ answered: true, result: 'allow', result_code: 'SUCCESS_SMS_AUTHENTICATED' });
      expect((await pending).json()).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_AUTHENTICATED' });
      expect((await t.app.inject({ method: 'POST', url: '/admin/v1/outbox/replies', headers: admin, payload: { from: PHONE, body: code! } })).json()).toEqual({
        answered: false,
        txid: null,
        result: null,
        result_code: null,
      });
      expect((await t.app.inject({ method: 'POST', url: '/admin/v1/outbox/replies', headers: admin, payload: { from: '2025550123', body: 'x' } })).statusCode).toBe(400);
      expect((await t.app.inject({ method: 'POST', url: '/admin/v1/outbox/replies', headers: await t.as('reports_reader'), payload: { from: PHONE, body: 'x' } })).statusCode).toBe(403);
    } finally {
      await t.dispose();
    }
  });
});
