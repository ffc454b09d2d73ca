import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { twilioSignature, verifyTwilioSignature } from '../src/modules/telephony/twilio.js';
import type { buildHttpApp } from '../src/protocols/http/app.js';
import { TWILIO_SID, type startFakeTwilio } from './helpers/fake-twilio.js';
import { startTwilioServer } from './helpers/twilio-server.js';
import { testActor, type TestRuntime } from './helpers/runtime.js';

describe('the twilio gateway (sqlite)', () => {
  let twilio: Awaited<ReturnType<typeof startFakeTwilio>>;
  let t: TestRuntime;
  let app: Awaited<ReturnType<typeof buildHttpApp>>;
  let basic: Record<string, string>;
  let server: Awaited<ReturnType<typeof startTwilioServer>>;

  beforeEach(async () => {
    server = await startTwilioServer('sqlite');
    ({ twilio, t, app } = server);
    const { application, secret } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
    basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}`, 'content-type': 'application/json' };
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
  });
  afterEach(() => server.close());

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

  it('gives the wrong-code results for codes typed or replied through Twilio, and sends nothing to a blocked user', async () => {
    await t.runtime.directory.update('bob@contoso.com', { sms_mode: 'otp_pin', pin: '4821' }, testActor);
    const typed = await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms', async: true });
    const code = /code is (\d{6})/.exec(twilio.messages[0]!.params.Body!)![1]!;
    const wrong = code === '000000' ? '111111' : '000000';
    expect(await post('/auth/v1/respond', { txid: typed.txid, passcode: `${code}1111` })).toMatchObject({ result: 'waiting', result_code: 'FAILED_SMS_OTP_PIN_INCORRECT' });
    expect(await post('/auth/v1/respond', { txid: typed.txid, passcode: `${wrong}4821` })).toMatchObject({ result: 'waiting', result_code: 'FAILED_SMS_OTP_INCORRECT' });
    expect(await post('/auth/v1/respond', { txid: typed.txid, passcode: `${wrong}4821` })).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_MAX_OTP_RETRY_REACHED' });

    t.clock.advance(1000);
    await t.runtime.directory.update('bob@contoso.com', { sms_direction: 'two_way' }, testActor);
    const replied = await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms', async: true });
    const replyCode = /reply with (\d{6})/.exec(twilio.messages[1]!.params.Body!)![1]!;
    const webhook = `${app.listeningOrigin}/telephony/v1/twilio/sms`;
    const status = async () => (await app.inject({ url: `/auth/v1/auth_status?txid=${String(replied.txid)}`, headers: basic })).json<Record<string, unknown>>();
    expect((await twilio.incoming(webhook, '+12025550123', `${replyCode}9999`)).status).toBe(200);
    expect(await status()).toMatchObject({ result: 'waiting', result_code: 'FAILED_SMS_OTP_PIN_INCORRECT' });
    expect((await twilio.incoming(webhook, '+12025550123', `${replyCode === '000000' ? '111111' : '000000'}4821`)).status).toBe(200);
    expect(await status()).toMatchObject({ result: 'waiting', result_code: 'FAILED_SMS_OTP_INCORRECT' });
    expect((await twilio.incoming(webhook, '+12025550123', `${replyCode}4821`)).status).toBe(200);
    expect(await status()).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_AUTHENTICATED' });

    await t.runtime.blocks.block('bob@contoso.com', 'phone reported lost', testActor);
    expect(await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms' })).toMatchObject({ result: 'deny', result_code: 'SUCCESS_USER_BLOCKED', detail: 'user is blocked' });
    expect(twilio.messages).toHaveLength(2);
  });

  it('denies with FAILED_SMS_NOT_SENT when Twilio refuses the message, and logs its error', async () => {
    twilio.refuseWith({ status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    expect(await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'sms' })).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_NOT_SENT' });
    expect(await log()).toMatchObject({ status: 'failed', error: "HTTP 400 (Twilio error 21211): The 'To' number is not a valid phone number." });
  });
});

describe('twilio voice calls (sqlite)', () => {
  let server: Awaited<ReturnType<typeof startTwilioServer>>;
  let basic: Record<string, string>;
  afterEach(() => server.close());

  async function start(overrides: Record<string, unknown> = {}, user: Record<string, unknown> = {}) {
    server = await startTwilioServer('sqlite', overrides);
    const { application, secret } = await server.t.runtime.applications.create({ name: 'VPN' }, testActor);
    basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}`, 'content-type': 'application/json' };
    await server.t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' }, ...user }, testActor);
  }
  const post = async (path: string, body: object) => (await server.app.inject({ method: 'POST', url: path, headers: basic, payload: body })).json<Record<string, unknown>>();
  const log = async () => (await server.t.runtime.telephony.list({ limit: 1 })).items[0]!;
  const status = async (txid: unknown) => (await server.app.inject({ method: 'GET', url: `/auth/v1/auth_status?txid=${String(txid)}`, headers: basic })).json<Record<string, unknown>>();

  it('places calls through the Calls API with the voice webhooks, machine detection and the extension as SendDigits', async () => {
    await start({}, { phone: { number: '202 555 0123', extension: '123,4' } });
    const started = await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'voice', async: true });
    expect(started).toMatchObject({ result: 'waiting', result_code: null, status_msg: 'waiting for the user on the phone' });
    const [call] = server.twilio.calls;
    const entry = await log();
    const origin = server.app.listeningOrigin;
    expect(call!.params).toMatchObject({
      To: '+12025550123',
      From: '+15005550006',
      Url: `${origin}/telephony/v1/twilio/voice?ref=${entry.id}`,
      Method: 'POST',
      StatusCallback: `${origin}/telephony/v1/twilio/voice/status?ref=${entry.id}`,
      Timeout: '30',
      MachineDetection: 'Enable',
      SendDigits: 'W123W4',
    });
    expect(call!.statusEvents).toEqual(['initiated', 'ringing', 'answered', 'completed']);
    expect(entry).toMatchObject({ kind: 'call', gateway: 'twilio', to: '+12025550123', provider_id: call!.sid, status: 'queued', body: null });

    // Answered: the greeting inside a <Gather> that ends on # or silence and always reports back.
    const answered = await server.twilio.answer(call!);
    expect(answered.gather).toEqual({
      input: 'dtmf',
      finishOnKey: '#',
      timeout: '10',
      actionOnEmptyResult: 'true',
      method: 'POST',
      action: `${origin}/telephony/v1/twilio/voice/keys?ref=${entry.id}`,
    });
    expect(answered.twiml).toContain('<Say language="en-US">This is your sign-in verification call.');
    const pressed = await server.twilio.press(call!, '#');
    expect(pressed).toMatchObject({ says: 'You are signed in. Goodbye.', gather: null, hangup: true });
    expect(await status(started.txid)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_NO_PIN' });
    // The fake ended the call after <Hangup/>: the log has each status Twilio reported.
    expect((await server.twilio.callStatus(call!, 'completed', { extra: { CallDuration: '9', Price: '-0.0130', PriceUnit: 'USD' } })).status).toBe(204);
    expect(await log()).toMatchObject({ status: 'completed', cost: '-0.0130 USD' });
    expect((await log()).history.map((item) => item.status)).toEqual(['queued', 'in-progress', 'completed', 'completed']);
  });

  it('speaks the user\'s language', async () => {
    await start({}, { language: 'fr-CA', call_mode: 'pin', pin: '4821' });
    await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'voice', async: true });
    const answered = await server.twilio.answer(server.twilio.calls[0]!);
    expect(answered.twiml).toContain('<Say language="fr-FR">Ceci est votre appel de vérification de connexion. Pour vous connecter, saisissez votre code PIN suivi de la touche dièse.');
    expect(answered.says).toContain('composez 0 dièse pour le signaler');
    expect((await server.twilio.press(server.twilio.calls[0]!, '4821#')).says).toBe('Vous êtes connecté. Au revoir.');
  });

  it('maps refused calls: a number Twilio rejects is FAILED_INVALID_PHONENUMBER, anything else FAILED_SERVER_ERROR', async () => {
    await start();
    server.twilio.refuseWith({ status: 400, code: 21211, message: "Invalid 'To' Phone Number" });
    expect(await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'voice' })).toMatchObject({ result: 'deny', result_code: 'FAILED_INVALID_PHONENUMBER' });
    expect(await log()).toMatchObject({ kind: 'call', status: 'failed', error: "HTTP 400 (Twilio error 21211): Invalid 'To' Phone Number" });
    server.t.clock.advance(1000);
    server.twilio.refuseWith({ status: 503, code: 20503, message: 'Service unavailable' });
    expect(await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'voice' })).toMatchObject({ result: 'deny', result_code: 'FAILED_SERVER_ERROR', detail: 'service error' });
    server.t.clock.advance(1000);
    server.twilio.refuseWith(null);
    await server.twilio.close();
    expect(await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'voice' })).toMatchObject({ result: 'deny', result_code: 'FAILED_SERVER_ERROR' });
  });

  it('refuses forged, misrouted and malformed voice webhooks, and they change nothing', async () => {
    await start();
    const started = await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'voice', async: true });
    const [call] = server.twilio.calls;
    const forged = await server.twilio.answer(call!, 'human', 'not-the-token');
    expect(forged.status).toBe(403);
    expect((await server.twilio.callStatus(call!, 'busy', { token: 'not-the-token' })).status).toBe(403);
    expect((await server.twilio.callStatus(call!, 'busy', { sid: `CA${'f'.repeat(32)}` })).status).toBe(404);
    expect((await server.twilio.callStatus(call!, 'exploded')).status).toBe(400);
    call!.over = false;
    expect(await status(started.txid)).toMatchObject({ result: 'waiting' });
    await server.twilio.answer(call!);
    expect((await server.twilio.press(call!, '#', { token: 'not-the-token' })).status).toBe(403);
    expect((await server.twilio.press(call!, '#', { sid: `CA${'e'.repeat(32)}` })).status).toBe(404);
    expect((await server.twilio.press(call!, 'AB#')).status).toBe(400);
    const unknown = await fetch(`${server.app.listeningOrigin}/telephony/v1/twilio/voice/keys?ref=nope`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'CallSid=x' });
    expect([400, 403]).toContain(unknown.status);
    expect(await status(started.txid)).toMatchObject({ result: 'waiting' });
    expect((await server.twilio.press(call!, '#')).says).toBe('You are signed in. Goodbye.');
  });

  it('offers no voice calls without a public URL: Twilio could not report anything back', async () => {
    await start({ telephony: { twilio: { publicUrl: '' } } });
    const preauth = await post('/auth/v1/preauth', { username: 'bob@contoso.com' });
    expect((preauth.methods as { method: string }[]).map((method) => method.method)).toEqual(['sms']);
    expect(await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'voice' })).toMatchObject({ result: 'deny', status_msg: 'no voice method registered' });
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
