import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { twilioSignature, verifyTwilioSignature } from '../src/modules/telephony/twilio.js';
import { buildHttpApp } from '../src/protocols/http/app.js';
import { startFakeTwilio, TWILIO_SID, TWILIO_TOKEN } from './helpers/fake-twilio.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';

/** A port nothing listens on right now, for a server whose public URL must be configured before it starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('the twilio gateway (sqlite)', () => {
  let twilio: Awaited<ReturnType<typeof startFakeTwilio>>;
  let t: TestRuntime;
  let app: Awaited<ReturnType<typeof buildHttpApp>>;
  let basic: Record<string, string>;

  beforeEach(async () => {
    twilio = await startFakeTwilio();
    const port = await freePort();
    t = await createTestRuntime('sqlite', {
      telephony: { gateway: 'twilio', twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN, from: '+15005550006', apiBaseUrl: twilio.url, publicUrl: `http://127.0.0.1:${port}/` } },
    });
    app = await buildHttpApp(t.runtime);
    await app.listen({ host: '127.0.0.1', port });
    const { application, secret } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
    basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}`, 'content-type': 'application/json' };
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
  });
  afterEach(async () => {
    await app.close();
    await t.dispose();
    await twilio.close();
  });

  const post = async (path: string, body: object) => (await app.inject({ method: 'POST', url: path, headers: basic, payload: body })).json<Record<string, unknown>>();
  const log = async () => (await t.runtime.telephony.list({ limit: 1 })).items[0]!;

  it('sends through the Messages API and authenticates the user who types the code', async () => {
    const sent = await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms' });
    expect(sent).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_SMS_SENT' });
    expect(twilio.messages).toHaveLength(1);
    const [message] = twilio.messages;
    expect(message!.params).toMatchObject({ To: '+12025550123', From: '+15005550006' });
    expect(message!.params.StatusCallback).toBe(`${app.listeningOrigin}/telephony/v1/twilio/status?ref=${(await log()).id}`);
    expect(await log()).toMatchObject({ gateway: 'twilio', status: 'queued', provider_id: message!.sid, body: null });
    const code = /code is (\d{6})/.exec(message!.params.Body!)![1]!;
    expect(await post('/auth/v1/respond', { txid: sent.txid, passcode: code })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_SENT' });
  });

  it('records the status callbacks Twilio signs, and refuses forged or misrouted ones', async () => {
    await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms' });
    const [message] = twilio.messages;
    expect((await twilio.callback(message!, 'sent')).status).toBe(204);
    expect((await twilio.callback(message!, 'delivered', { extra: { SmsStatus: 'delivered' } })).status).toBe(204);
    expect((await log()).history.map((entry) => entry.status)).toEqual(['queued', 'sent', 'delivered']);

    const forged = await twilio.callback(message!, 'failed', { token: 'not-the-token' });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ code: 'forbidden' });
    const otherMessage = await twilio.callback(message!, 'failed', { sid: `SM${'f'.repeat(32)}` });
    expect(otherMessage.status).toBe(404);
    const unsigned = await fetch(message!.params.StatusCallback!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `MessageSid=${message!.sid}&MessageStatus=failed` });
    expect(unsigned.status).toBe(403);
    expect((await log()).status).toBe('delivered');

    const unknownState = await twilio.callback(message!, 'exploded');
    expect(unknownState.status).toBe(400);
    expect(await unknownState.json()).toMatchObject({ code: 'validation_failed' });
    expect((await twilio.callback(message!, 'undelivered', { extra: { ErrorCode: '30003' } })).status).toBe(204);
    expect(await log()).toMatchObject({ status: 'undelivered', error: 'Twilio status undelivered (error 30003)' });
  });

  it('takes two-way replies from the incoming-message webhook, signed', async () => {
    await t.runtime.directory.update('bob@contoso.com', { sms_direction: 'two_way' }, testActor);
    const sent = await post('/auth/v1/auth', { username: 'bob@contoso.com', async: true });
    expect(sent).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_SMS_SENT' });
    const code = /reply with (\d{6})/.exec(twilio.messages[0]!.params.Body!)![1]!;
    const webhook = `${app.listeningOrigin}/telephony/v1/twilio/sms`;
    const forged = await twilio.incoming(webhook, '+12025550123', code, 'not-the-token');
    expect(forged.status).toBe(403);
    const answered = await twilio.incoming(webhook, '+12025550123', code);
    expect(answered.status).toBe(200);
    expect(answered.headers.get('content-type')).toContain('text/xml');
    expect(await answered.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    const status = await app.inject({ url: `/auth/v1/auth_status?txid=${String(sent.txid)}`, headers: basic });
    expect(status.json()).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_AUTHENTICATED' });
    const inbound = (await t.runtime.telephony.list({})).items.filter((item) => item.direction === 'inbound');
    expect(inbound).toEqual([expect.objectContaining({ to: '+12025550123', body: null, gateway: 'twilio', status: 'received', username: 'bob@contoso.com' })]);
  });

  it('denies with FAILED_SMS_NOT_SENT when Twilio refuses the message, and logs its error', async () => {
    twilio.refuseWith({ status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    expect(await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms' })).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_NOT_SENT' });
    expect(await log()).toMatchObject({ status: 'failed', error: "HTTP 400 (Twilio error 21211): The 'To' number is not a valid phone number." });
  });
});

describe('twilio webhook signatures', () => {
  it('match the documented example of the algorithm', () => {
    // The URL, then each parameter's name and value sorted by name, HMAC-SHA1 under the auth token, base64.
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675310', Digits: '1234', From: '+14158675310', To: '+18005551212' };
    const signature = twilioSignature('12345', url, params);
    expect(signature).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=');
    expect(verifyTwilioSignature('12345', url, params, signature)).toBe(true);
    expect(verifyTwilioSignature('12345', url, { ...params, Digits: '1235' }, signature)).toBe(false);
    expect(verifyTwilioSignature('12345', url, params, undefined)).toBe(false);
  });

  it('are required configuration when the gateway is twilio', () => {
    expect(() => loadConfig({ overrides: { telephony: { gateway: 'twilio' } } })).toThrow('config key telephony.twilio.accountSid');
    expect(() => loadConfig({ overrides: { telephony: { gateway: 'twilio', twilio: { accountSid: TWILIO_SID } } } })).toThrow('config key telephony.twilio.authToken');
    expect(() => loadConfig({ overrides: { telephony: { gateway: 'twilio', twilio: { accountSid: TWILIO_SID, authToken: 'x', from: '555' } } } })).toThrow('config key telephony.twilio.from');
    expect(() => loadConfig({ overrides: { telephony: { gateway: 'twilio', twilio: { accountSid: TWILIO_SID, authToken: 'x', from: '+15005550006', publicUrl: 'mfa.example.com' } } } })).toThrow(
      'config key telephony.twilio.publicUrl',
    );
  });
});
