import { afterEach, describe, expect, it } from 'vitest';
import { AuthenticatorClient, ServerError } from '../src/authenticator/client.js';
import type { PushNotifier } from '../src/modules/methods/app/push.js';
import { startAppServer } from './helpers/app-server.js';
import { testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

describe.each(DIALECTS)('the authenticator app on %s', (dialect) => {
  let server: Awaited<ReturnType<typeof startAppServer>>;
  afterEach(() => server.close());
  const db = () => server.t.runtime.storage.db;
  const lastAttempt = () => db().selectFrom('auth_attempts').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();

  async function start(overrides: Record<string, unknown> = {}, user: Record<string, unknown> = {}, notifier?: PushNotifier) {
    server = await startAppServer(dialect, overrides, notifier ? { pushNotifier: notifier } : {});
    await server.t.runtime.directory.create({ username: 'bob@contoso.com', ...user }, testActor);
  }

  /** Starts a push and returns the engine's first answer and the push as the device sees it. */
  async function push(device: AuthenticatorClient) {
    server.t.clock.advance(1000);
    const started = await server.t.runtime.engine.auth(server.request());
    const [seen] = await device.pushes();
    return { started, seen: seen! };
  }
  const status = (txid: string | null) => server.t.runtime.engine.status(server.application, txid!, 0);

  it('activates a device with a one-time code and records every step', async () => {
    await start();
    const { code, uri, url, qr_png: qrPng } = await server.activationCode();
    expect(Buffer.from(qrPng, 'base64').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    expect(uri).toBe(`countersign://activate?url=${encodeURIComponent(server.url)}&code=${encodeURIComponent(code)}`);
    expect(url).toBe(server.url);
    const device = await AuthenticatorClient.activate(url, code.toLowerCase().replace(/-/g, ' '), { name: 'Bob phone', type: 'android', appVersion: '1.4.0' }, { now: () => server.t.clock.now() });
    expect(device.identity).toMatchObject({ account: 'bob@contoso.com', issuer: 'Countersign', oath: { algorithm: 'SHA1', digits: 6, period: 30 } });
    expect(device.identity.oath!.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await device.device()).toMatchObject({ name: 'Bob phone', type: 'android', status: 'active', oath_token: true });

    // Used once.
    await expect(AuthenticatorClient.activate(url, code, { name: 'Copy', type: 'android' })).rejects.toMatchObject({ status: 400, code: 'invalid_activation_code', message: 'code: the activation code was already used' });
    // Expired.
    const late = await server.activationCode();
    server.t.clock.advance(61 * 60_000);
    await expect(AuthenticatorClient.activate(url, late.code, { name: 'Late', type: 'ios' })).rejects.toMatchObject({ code: 'invalid_activation_code', message: 'code: the activation code has expired' });
    await expect(AuthenticatorClient.activate(url, 'AAAA-BBBB-CCCC-DDDD', { name: 'Guess', type: 'ios' })).rejects.toMatchObject({ code: 'invalid_activation_code', message: 'code: the activation code does not exist' });
    // A key that is not an EC P-256 public key.
    const other = await server.activationCode();
    const bad = await fetch(`${url}/app/v1/activate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: other.code, public_key: { kty: 'RSA', n: 'x', e: 'AQAB' }, device_name: 'Odd', device_type: 'ios' }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'invalid_device_key', field: 'public_key' });

    const records = await (await fetch(`${url}/admin/v1/users/bob@contoso.com/app/activations`, { headers: await server.admin('reports_reader') })).json();
    expect((records as Record<string, unknown>[]).reverse()).toEqual([
      expect.objectContaining({ get_activation_code_result: 'issued', activation_success: null, oath_token_enabled: true, account_name: 'Countersign: bob@contoso.com' }),
      expect.objectContaining({ activation_success: true, activation_status_result: 'active', device_name: 'Bob phone', device_type: 'android', app_version: '1.4.0' }),
      expect.objectContaining({ activation_success: false, activation_error: 'the activation code was already used', device_name: 'Copy' }),
      expect.objectContaining({ get_activation_code_result: 'issued' }),
      expect.objectContaining({ activation_success: false, activation_error: 'the activation code has expired' }),
      expect.objectContaining({ get_activation_code_result: 'issued' }),
      expect.objectContaining({ activation_success: false, activation_error: 'invalid public key', activation_status_result: 'failed' }),
    ]);
    // The user adds a second device from the first: a code made by the activated app.
    const second = await device.newActivation();
    expect(second.uri).toContain('countersign://activate?url=');
    const tablet = await AuthenticatorClient.activate(second.url, second.code, { name: 'Bob tablet', type: 'ios' }, { now: () => server.t.clock.now() });
    expect((await server.t.runtime.appDevices.list('bob@contoso.com')).map((item) => item.name).sort()).toEqual(['Bob phone', 'Bob tablet']);
    expect(tablet.identity.account).toBe('bob@contoso.com');
    // The provisioned OATH secret is a working OATH token of the user.
    expect((await server.t.runtime.engine.preauth({ ...server.request(), factor: undefined } as never)).methods.map((method) => method.method)).toEqual(['oath', 'app']);
  });

  it('approves with number matching (SUCCESS_PHONE_APP_AUTHENTICATED) and records the device', async () => {
    await start();
    const device = await server.device();
    const { started, seen } = await push(device);
    expect(started).toMatchObject({ result: 'waiting', result_code: null, number: expect.stringMatching(/^[1-9][0-9]$/) });
    expect(seen).toMatchObject({ txid: started.txid, application: 'Corporate VPN', ip: '198.51.100.9', location: null, number_matching: true, pin: false });
    expect(JSON.stringify(seen)).not.toContain(`"${started.number}"`);
    expect(await status(started.txid)).toMatchObject({ result: 'waiting', number: started.number });
    expect(await device.answer(seen.txid, { decision: 'approve', number: started.number })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_PHONE_APP_AUTHENTICATED' });
    expect(await status(started.txid)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_PHONE_APP_AUTHENTICATED' });
    const attempt = await lastAttempt();
    expect(attempt).toMatchObject({ method: 'app', app_mode: 'standard', device: 'Bob phone', device_type: 'android', app_version: '1.4.0', os_version: 'Android 15', result: 'SUCCESS_PHONE_APP_AUTHENTICATED' });
    expect(Boolean(attempt.number_matching)).toBe(true);
    // Answered: nothing waits any more, and a second answer changes nothing.
    expect(await device.pushes()).toEqual([]);
    expect(await device.answer(seen.txid, { decision: 'deny' })).toMatchObject({ result: 'allow' });
  });

  it('denies, reports fraud (blocking the user), and refuses a wrong number or a malformed answer', async () => {
    await start();
    const device = await server.device();
    let { started, seen } = await push(device);
    expect(await device.answer(seen.txid, { decision: 'deny' })).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_DENIED' });
    ({ started, seen } = await push(device));
    const wrong = started.number === '42' ? '43' : '42';
    expect(await device.answer(seen.txid, { decision: 'approve', number: wrong })).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_INVALID_RESULT' });
    ({ started, seen } = await push(device));
    expect(await device.answer(seen.txid, { decision: 'maybe' as 'deny' })).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_INVALID_RESULT' });
    // With an OATH secret on a second device, a denial offers the OATH fallback; a fraud report does not.
    await server.device('bob@contoso.com', 'Bob tablet', { oath: true });
    ({ started, seen } = await push(device));
    expect(await device.answer(seen.txid, { decision: 'deny' })).toMatchObject({ result: 'waiting', result_code: 'FAILED_PHONE_APP_DENIED' });
    expect(await status(started.txid)).toMatchObject({ result: 'waiting', fallback: ['oath'] });
    server.t.clock.advance(310_000); // the fallback offer times out
    ({ started, seen } = await push(device));
    expect(await device.answer(seen.txid, { decision: 'fraud' })).toMatchObject({ result: 'deny', result_code: 'FAILED_FRAUD_REPORTED' });
    expect((await server.t.runtime.blocks.history({ username: 'bob@contoso.com' })).items[0]).toMatchObject({ blocked: true, fraud_alert: true, block_reason: 'fraud reported (authenticator app)' });
    expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result: 'deny', result_code: 'SUCCESS_USER_BLOCKED' });
  });

  it('offers security questions after a denied push, names them to whoever polls, and completes with their answers', async () => {
    await start({ auth: { fallbackQuestions: true } });
    const ids: string[] = [];
    for (const text of ['First pet?', 'Birth town?', 'First school?']) ids.push((await server.t.runtime.securityQuestions.addQuestion(text, testActor)).id);
    await server.t.runtime.securityQuestions.register('bob@contoso.com', ids.map((id, index) => ({ question_id: id, answer: `answer ${index}` })), testActor);
    const device = await server.device();
    expect((await server.t.runtime.engine.preauth(server.request())).fallback).toEqual(['questions']);
    const { started, seen } = await push(device);
    expect(await device.answer(seen.txid, { decision: 'deny' })).toMatchObject({ result: 'waiting', result_code: 'FAILED_PHONE_APP_DENIED' });
    // The application polls auth_status: the offer names the questions to ask.
    const offer = await status(started.txid);
    expect(offer).toMatchObject({ result: 'waiting', result_code: 'FAILED_PHONE_APP_DENIED', detail: 'user declined the authentication', fallback: ['questions'] });
    expect(offer.questions).toHaveLength(2);
    const answers = Object.fromEntries(offer.questions!.map((question) => [question.id, `answer ${ids.indexOf(question.id)}`]));
    expect(await server.t.runtime.engine.respond(server.application, started.txid!, { answers })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED' });
  });

  it('answers a synchronous /auth at the denial, with the fallback, not when the push would have timed out', async () => {
    await start();
    const device = await server.device();
    await server.device('bob@contoso.com', 'Bob tablet', { oath: true });
    const { application, secret } = await server.t.runtime.applications.create({ name: 'Sync VPN' }, testActor);
    const authorization = `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}`;
    const startedAt = Date.now();
    const pending = fetch(`${server.url}/auth/v1/auth`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob@contoso.com', factor: 'app' }) });
    let seen: Awaited<ReturnType<typeof device.pushes>> = [];
    while (seen.length === 0) seen = await device.pushes();
    await device.answer(seen[0]!.txid, { decision: 'deny' });
    const answer = (await (await pending).json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ result: 'waiting', result_code: 'FAILED_PHONE_APP_DENIED', fallback: ['oath'] });
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });

  it('refuses a forged or replayed answer: a bad signature ends the push as an invalid result', async () => {
    await start();
    const device = await server.device();
    const intruder = await server.device('bob@contoso.com', 'Intruder');
    let { started, seen } = await push(device);
    // Signed with another device's key while claiming to be this device.
    const body = JSON.stringify({ decision: 'approve', number: started.number });
    const path = `/app/v1/challenges/${seen.txid}/answer`;
    const forgedHeaders = { ...intruder.signHeaders('POST', path, body), 'x-countersign-device': device.identity.deviceId, 'content-type': 'application/json' };
    const forged = await fetch(`${server.url}${path}`, { method: 'POST', headers: forgedHeaders, body });
    expect(forged.status).toBe(401);
    expect(await status(started.txid)).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_INVALID_RESULT' });

    // A genuine answer sent twice: the copy is refused and changes nothing.
    ({ started, seen } = await push(device));
    const genuine = JSON.stringify({ decision: 'deny' });
    const headers = { ...device.signHeaders('POST', `/app/v1/challenges/${seen.txid}/answer`, genuine), 'content-type': 'application/json' };
    expect((await fetch(`${server.url}/app/v1/challenges/${seen.txid}/answer`, { method: 'POST', headers, body: genuine })).status).toBe(200);
    const replayed = await fetch(`${server.url}/app/v1/challenges/${seen.txid}/answer`, { method: 'POST', headers, body: genuine });
    expect(replayed.status).toBe(401);
    expect(await status(started.txid)).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_DENIED' });
    // A body changed after signing, and a stale timestamp.
    ({ started, seen } = await push(device));
    const signedFor = device.signHeaders('POST', `/app/v1/challenges/${seen.txid}/answer`, JSON.stringify({ decision: 'deny' }));
    const altered = await fetch(`${server.url}/app/v1/challenges/${seen.txid}/answer`, { method: 'POST', headers: { ...signedFor, 'content-type': 'application/json' }, body: JSON.stringify({ decision: 'approve', number: started.number }) });
    expect(altered.status).toBe(401);
    expect(await status(started.txid)).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_INVALID_RESULT' });
    // A device clock ten minutes slow: refused without ending the push; the client compares clocks and signs again.
    ({ started, seen } = await push(device));
    const slow = new AuthenticatorClient({ ...device.identity, clockOffsetMs: -10 * 60_000 }, { now: () => server.t.clock.now() });
    const lateBody = JSON.stringify({ decision: 'approve', number: started.number });
    const late = await fetch(`${server.url}/app/v1/challenges/${seen.txid}/answer`, { method: 'POST', headers: { ...slow.signHeaders('POST', `/app/v1/challenges/${seen.txid}/answer`, lateBody), 'content-type': 'application/json' }, body: lateBody });
    expect(late.status).toBe(401);
    expect(await late.json()).toMatchObject({ code: 'unauthenticated' });
    expect(await status(started.txid)).toMatchObject({ result: 'waiting' });
    expect(await slow.answer(seen.txid, { decision: 'approve', number: started.number })).toMatchObject({ result: 'allow' });
    expect(slow.identity.clockOffsetMs).toBe(0);
    // An unknown device cannot end anyone's push.
    ({ started, seen } = await push(device));
    const stranger = new AuthenticatorClient({ ...device.identity, deviceId: 'no-such-device' }, { now: () => server.t.clock.now() });
    await expect(stranger.answer(seen.txid, { decision: 'deny' })).rejects.toBeInstanceOf(ServerError);
    expect(await status(started.txid)).toMatchObject({ result: 'waiting' });
  });

  it('PIN mode: the PIN in the app; a wrong one, and an expired one not changed, are denied', async () => {
    await start({}, { pin: '4821' });
    await server.t.runtime.directory.update('bob@contoso.com', { app_mode: 'pin' }, testActor);
    const device = await server.device();
    let { started, seen } = await push(device);
    expect(seen).toMatchObject({ pin: true, pin_change: false });
    expect(await device.answer(seen.txid, { decision: 'approve', number: started.number, pin: '1111' })).toMatchObject({ result_code: 'FAILED_PHONE_APP_INVALID_PIN' });
    ({ started, seen } = await push(device));
    expect(await device.answer(seen.txid, { decision: 'approve', number: started.number, pin: '4821' })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_PHONE_APP_AUTHENTICATED' });
    expect(await lastAttempt()).toMatchObject({ app_mode: 'pin' });

    await server.t.runtime.directory.update('bob@contoso.com', { pin_change_required: true }, testActor);
    ({ started, seen } = await push(device));
    expect(seen).toMatchObject({ pin: true, pin_change: true });
    expect(await device.answer(seen.txid, { decision: 'approve', number: started.number, pin: '4821' })).toMatchObject({ result_code: 'FAILED_PHONE_APP_PIN_NOT_CHANGED' });
    ({ started, seen } = await push(device));
    expect(await device.answer(seen.txid, { decision: 'approve', number: started.number, pin: '4821', new_pin: '7340' })).toMatchObject({ result: 'allow' });
    expect(await server.t.runtime.directory.get('bob@contoso.com')).toMatchObject({ pin_change_required: false });
    ({ started, seen } = await push(device));
    expect(await device.answer(seen.txid, { decision: 'approve', number: started.number, pin: '7340' })).toMatchObject({ result: 'allow' });
  });

  it('a push nobody answers is FAILED_PHONE_APP_NO_RESPONSE; devices that keep missing pushes are blocked', async () => {
    await start({ app: { missedPushesToBlock: 2 } });
    const device = await server.device();
    for (let missed = 1; missed <= 2; missed += 1) {
      const { started } = await push(device);
      server.t.clock.advance(121_000);
      expect(await status(started.txid)).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_NO_RESPONSE', detail: 'user did not respond to mobile app notification' });
    }
    expect(await server.t.runtime.appDevices.list('bob@contoso.com')).toEqual([expect.objectContaining({ status: 'blocked', missed_pushes: 2, blocked_reason: 'left 2 pushes in a row unanswered' })]);
    expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_ALL_DEVICES_BLOCKED' });
    await expect(device.pushes()).rejects.toMatchObject({ status: 401 });
    await server.t.runtime.appDevices.unblock('bob@contoso.com', device.identity.deviceId, testActor);
    const { started, seen } = await push(device);
    expect(await device.answer(seen.txid, { decision: 'approve', number: started.number })).toMatchObject({ result: 'allow' });
  });

  it('FAILED_PHONE_APP_NOTIFICATION_FAILED when the push service cannot reach any device', async () => {
    const failing: PushNotifier = { name: 'failing', notify: async () => ({ status: 'failed', error: 'relay down' }) };
    await start({}, {}, failing);
    await server.device();
    expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_NOTIFICATION_FAILED', detail: 'unable to send the mobile app notification to the device' });
  });

  it('wakes a device that waits in its long poll when a push arrives', async () => {
    // Long polls look again only once a minute: only the push's wake-up can end this one in time.
    server = await startAppServer(dialect, {}, { longPollIntervalMs: 60_000 });
    await server.t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const device = await server.device();
    const waiting = device.pushes(20);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const began = Date.now();
    const started = await server.t.runtime.engine.auth(server.request());
    const [seen] = await waiting;
    expect(seen).toMatchObject({ txid: started.txid });
    expect(Date.now() - began).toBeLessThan(5000);
  });
});
