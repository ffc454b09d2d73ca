import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticatedApplication } from '../src/modules/applications/applications.js';
import type { AuthInput } from '../src/modules/auth/engine.js';
import type { OutboxCallAction } from '../src/modules/telephony/outbox.js';
import type { DialectName } from '../src/storage/database.js';
import { outboxPhone, twilioPhone, type Phone } from './helpers/phones.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';
import { startTwilioServer } from './helpers/twilio-server.js';

type Gateway = 'outbox' | 'twilio';
const CASES: [DialectName, Gateway][] = DIALECTS.flatMap((dialect) => [
  [dialect, 'outbox'],
  [dialect, 'twilio'],
]);

/**
 * Every SPEC.md §2 voice outcome, played on the user's phone through each
 * gateway: the outbox in process, and Twilio over real HTTP (the fake
 * carrier posts signed webhooks to a listening server and follows its TwiML).
 */
describe.each(CASES)('voice calls on %s through the %s gateway', (dialect, gateway) => {
  let t: TestRuntime;
  let phone: Phone;
  let close: () => Promise<void>;
  afterEach(() => close());
  const db = () => t.runtime.storage.db;
  const lastAttempt = () => db().selectFrom('auth_attempts').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();

  async function start(overrides: Record<string, unknown> = {}) {
    if (gateway === 'outbox') {
      t = await createTestRuntime(dialect, overrides);
      phone = outboxPhone(t.runtime);
      close = () => t.dispose();
    } else {
      const server = await startTwilioServer(dialect, overrides);
      t = server.t;
      phone = twilioPhone(server.twilio);
      close = () => server.close();
    }
  }

  /** A user with a primary phone, and the request an application makes for them. */
  async function fixture(fields: Record<string, unknown> = {}) {
    const { application: view } = await t.runtime.applications.create({ name: `VPN ${randomBytes(3).toString('hex')}` }, testActor);
    const application: AuthenticatedApplication = { id: view.id, name: view.name };
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' }, ...fields }, testActor);
    const request = (): AuthInput => ({ username: 'bob@contoso.com', application, ip: '198.51.100.9', authType: 'vpn', entryPoint: 'http_api', factor: 'voice' });
    return { application, request };
  }

  /** Calls the user, plays `actions` on the call and returns the authentication's end. */
  async function call(request: () => AuthInput, ...actions: [OutboxCallAction, string?][]) {
    t.clock.advance(1000);
    const started = await t.runtime.engine.auth(request());
    if (started.result !== 'waiting') return started;
    for (const [action, keys] of actions) await phone.play(action, keys);
    return t.runtime.engine.status(request().application, started.txid!, 0);
  }

  it('standard mode: answer and press # (SUCCESS_NO_PIN, authenticated)', async () => {
    await start();
    const { request } = await fixture();
    const started = await t.runtime.engine.auth(request());
    expect(started).toMatchObject({ result: 'waiting', result_code: null, txid: expect.any(String) });
    expect(await phone.lastNumber()).toBe('+12025550123');
    const answered = await phone.play('answer');
    expect(answered).toMatchObject({ waitsForKeys: true, says: expect.stringContaining('press the pound key') });
    expect(await phone.play('keys', '#')).toEqual({ says: 'You are signed in. Goodbye.', waitsForKeys: false });
    expect(await t.runtime.engine.status(request().application, started.txid!, 0)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_NO_PIN', detail: 'successfully completed' });
    const attempt = await lastAttempt();
    expect(attempt).toMatchObject({ method: 'voice', call_mode: 'standard', primary_country_code: '1', primary_phone_number: '2025550123', primary_result: 'SUCCESS_NO_PIN', result: 'SUCCESS_NO_PIN' });
    expect(Boolean(attempt.primary_authenticated)).toBe(true);
    expect(attempt.backup_result).toBeNull();
  });

  it('gives every other call outcome its SPEC.md §2 code, denied', async () => {
    await start();
    const { request } = await fixture();
    const cases: [[OutboxCallAction, string?][], string, string][] = [
      [[['answer'], ['keys', '1234#']], 'SUCCESS_WITH_PIN', 'user entered incorrect PIN'],
      [[['answer'], ['keys', '12']], 'SUCCESS_WITH_PIN_BUT_TIMEOUT', 'user never entered the verification code'],
      [[['answer'], ['silence']], 'SUCCESS_NO_PIN_BUT_TIMEOUT', 'phone call went to voicemail'],
      [[['voicemail']], 'SUCCESS_NO_PIN_BUT_TIMEOUT', 'phone call went to voicemail'],
      [[['fax']], 'SUCCESS_INVALID_INPUT', 'invalid authentication'],
      [[['answer'], ['keys', '1*#']], 'SUCCESS_INVALID_INPUT', 'invalid authentication'],
      [[['busy']], 'CONFIG_ISSUE', "unable to reach the user's phone"],
      [[['no_answer']], 'CONFIG_ISSUE', "unable to reach the user's phone"],
      [[['fail']], 'CONFIG_ISSUE', "unable to reach the user's phone"],
      [[['answer'], ['hangup']], 'FAILED_USER_HUNGUP_ON_US', 'user hung up the phone call without succeeding the authentication'],
    ];
    for (const [actions, code, detail] of cases) {
      const label = actions.map((action) => action.join(' ')).join(', ');
      expect(await call(request, ...actions), label).toMatchObject({ result: 'deny', result_code: code, detail });
      expect(await lastAttempt(), label).toMatchObject({ method: 'voice', primary_result: code, result: code });
    }
  });

  it('PIN mode: the PIN then # authenticates (SUCCESS_WITH_PIN); a wrong PIN or # alone is denied', async () => {
    await start();
    const { request } = await fixture({ call_mode: 'pin', pin: '4821' });
    expect(await call(request, ['answer'], ['keys', '4821#'])).toMatchObject({ result: 'allow', result_code: 'SUCCESS_WITH_PIN' });
    expect(await lastAttempt()).toMatchObject({ call_mode: 'pin', result: 'SUCCESS_WITH_PIN' });
    expect(await call(request, ['answer'], ['keys', '1111#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_WITH_PIN', detail: 'user entered incorrect PIN' });
    expect(await call(request, ['answer'], ['keys', '#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_NO_PIN', detail: 'user entered incorrect PIN' });
    expect(await call(request, ['answer'], ['keys', '4821'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_WITH_PIN_BUT_TIMEOUT' });
  });

  it('an expired PIN: the call offers the change; finished it authenticates, unfinished SUCCESS_PIN_EXPIRED', async () => {
    await start();
    const { request } = await fixture({ call_mode: 'pin', pin: '4821', pin_change_required: true });
    // Hung up while asked for the new PIN.
    t.clock.advance(1000);
    const first = await t.runtime.engine.auth(request());
    await phone.play('answer');
    expect(await phone.play('keys', '4821#')).toMatchObject({ says: 'Your PIN has expired. Enter a new PIN followed by the pound key.', waitsForKeys: true });
    await phone.play('hangup');
    expect(await t.runtime.engine.status(request().application, first.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'SUCCESS_PIN_EXPIRED' });
    // A confirmation that does not match.
    expect(await call(request, ['answer'], ['keys', '4821#'], ['keys', '5555#'], ['keys', '5556#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_PIN_EXPIRED' });
    expect(await t.runtime.directory.get('bob@contoso.com')).toMatchObject({ pin_change_required: true });
    // Done: the new PIN is saved, with a change record, and works from the next call.
    t.clock.advance(1000);
    const changed = await t.runtime.engine.auth(request());
    await phone.play('answer');
    await phone.play('keys', '4821#');
    expect(await phone.play('keys', '12#')).toMatchObject({ says: expect.stringContaining('That PIN cannot be used'), waitsForKeys: true });
    expect(await phone.play('keys', '7340#')).toMatchObject({ says: 'Enter the new PIN again followed by the pound key.' });
    expect(await phone.play('keys', '7340#')).toMatchObject({ says: 'Your PIN is changed and you are signed in. Goodbye.', waitsForKeys: false });
    expect(await t.runtime.engine.status(request().application, changed.txid!, 0)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_WITH_PIN' });
    expect(await t.runtime.directory.get('bob@contoso.com')).toMatchObject({ pin_change_required: false });
    const change = await db().selectFrom('user_changes').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(JSON.parse(change.changed_fields)).toEqual(['pin', 'pin_change_required']);
    expect(change).toMatchObject({ actor_type: 'system', actor_id: 'voice-call' });
    expect(await call(request, ['answer'], ['keys', '7340#'])).toMatchObject({ result: 'allow', result_code: 'SUCCESS_WITH_PIN' });
    expect(await call(request, ['answer'], ['keys', '4821#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_WITH_PIN' });
  });

  it('the fraud code denies, blocks the user with a fraud-alert record, and later calls are not placed (SUCCESS_USER_BLOCKED) until unblocked', async () => {
    await start();
    const { request } = await fixture();
    t.clock.advance(1000);
    const started = await t.runtime.engine.auth(request());
    await phone.play('answer');
    expect(await phone.play('keys', '0#')).toMatchObject({ says: expect.stringContaining('your account is blocked'), waitsForKeys: false });
    expect(await t.runtime.engine.status(request().application, started.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'FAILED_FRAUD_CODE_ENTERED', detail: 'user declined the authentication' });
    const [block] = (await t.runtime.blocks.history({ username: 'bob@contoso.com' })).items;
    expect(block).toMatchObject({ blocked: true, fraud_alert: true, blocked_by: 'user', block_reason: 'fraud reported (voice call fraud code)', phone_number: '2025550123' });
    const calls = await phone.calls();
    expect(await call(request)).toMatchObject({ result: 'deny', result_code: 'SUCCESS_USER_BLOCKED', detail: 'user is blocked' });
    expect(await phone.calls()).toBe(calls);
    await t.runtime.blocks.unblock('bob@contoso.com', 'confirmed with the user by phone', testActor);
    expect((await t.runtime.blocks.history({ username: 'bob@contoso.com' })).items[0]).toMatchObject({ blocked: false, completion_reason: 'confirmed with the user by phone', completed_at: expect.any(String) });
    expect(await call(request, ['answer'], ['keys', '#'])).toMatchObject({ result: 'allow', result_code: 'SUCCESS_NO_PIN' });
  });

  it('a configured fraud code, without automatic blocking: denied and recorded, not blocked', async () => {
    await start({ auth: { fraudCode: '9*#', fraudAutoBlock: false } });
    const { request } = await fixture();
    expect(await call(request, ['answer'], ['keys', '0#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_WITH_PIN' });
    expect(await call(request, ['answer'], ['keys', '9*#'])).toMatchObject({ result: 'deny', result_code: 'FAILED_FRAUD_CODE_ENTERED' });
    const [alert] = (await t.runtime.blocks.history({ username: 'bob@contoso.com' })).items;
    expect(alert).toMatchObject({ blocked: false, fraud_alert: true, fraud_alert_not_blocked: true });
    expect(await call(request, ['answer'], ['keys', '#'])).toMatchObject({ result: 'allow', result_code: 'SUCCESS_NO_PIN' });
  });

  it('calls the backup phone when the primary call fails, and records both legs', async () => {
    await start();
    const { request } = await fixture({ backup_phone: { country_code: '44', number: '7911 123456', extension: null } });
    const preauth = await t.runtime.engine.preauth(request());
    expect(preauth.methods.find((method) => method.method === 'voice')?.devices).toEqual([
      { id: 'phone1', name: '+1••••0123', type: 'phone' },
      { id: 'phone2', name: '+44••••3456', type: 'backup phone' },
    ]);
    t.clock.advance(1000);
    const started = await t.runtime.engine.auth(request());
    await phone.play('no_answer');
    expect(await phone.lastNumber()).toBe('+447911123456');
    expect(await t.runtime.engine.status(request().application, started.txid!, 0)).toMatchObject({ result: 'waiting' });
    await phone.play('answer');
    await phone.play('keys', '#');
    expect(await t.runtime.engine.status(request().application, started.txid!, 0)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_NO_PIN' });
    const attempt = await lastAttempt();
    expect(attempt).toMatchObject({
      primary_country_code: '1',
      primary_phone_number: '2025550123',
      primary_result: 'CONFIG_ISSUE',
      backup_country_code: '44',
      backup_phone_number: '7911123456',
      backup_result: 'SUCCESS_NO_PIN',
      result: 'SUCCESS_NO_PIN',
    });
    expect([Boolean(attempt.primary_authenticated), Boolean(attempt.backup_authenticated), Boolean(attempt.authenticated)]).toEqual([false, true, true]);

    // Both fail: the overall result is the backup's.
    expect(await call(request, ['answer'], ['hangup'], ['voicemail'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_NO_PIN_BUT_TIMEOUT' });
    expect(await lastAttempt()).toMatchObject({ primary_result: 'FAILED_USER_HUNGUP_ON_US', backup_result: 'SUCCESS_NO_PIN_BUT_TIMEOUT', result: 'SUCCESS_NO_PIN_BUT_TIMEOUT' });

    // A wrong answer on the primary is the user's answer: the backup is not called.
    const before = await phone.calls();
    expect(await call(request, ['answer'], ['keys', '99#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_WITH_PIN' });
    expect(await phone.calls()).toBe(before + 1);
    expect(await lastAttempt()).toMatchObject({ primary_result: 'SUCCESS_WITH_PIN', backup_result: null });
  });

  it('dials extensions, and refuses a stored number or extension that is not valid', async () => {
    await start();
    const { request } = await fixture({ phone: { number: '202 555 0123', extension: '@123,4' } });
    expect(await call(request, ['answer'], ['keys', '#'])).toMatchObject({ result: 'allow' });
    expect(await lastAttempt()).toMatchObject({ primary_extension: '@123,4' });
    // Numbers written by older imports or straight into the database are checked again before dialling.
    const user = await t.runtime.directory.get('bob@contoso.com');
    await db().updateTable('users').set({ phone_extension: '12x' }).where('id', '=', user.id).execute();
    const calls = await phone.calls();
    expect(await call(request)).toMatchObject({ result: 'deny', result_code: 'FAILED_INVALID_EXTENSION', detail: 'misconfiguration' });
    await db().updateTable('users').set({ phone_number: '555', phone_extension: null }).where('id', '=', user.id).execute();
    expect(await call(request)).toMatchObject({ result: 'deny', result_code: 'FAILED_INVALID_PHONENUMBER', detail: 'phone number has an invalid format' });
    expect(await phone.calls()).toBe(calls);
  });

  it('a call that never reports back ends when its challenge expires: CONFIG_ISSUE while ringing, SUCCESS_NO_PIN_BUT_TIMEOUT once answered', async () => {
    await start();
    const { request, application } = await fixture();
    const ringing = await t.runtime.engine.auth(request());
    t.clock.advance(121_000);
    expect(await t.runtime.engine.status(application, ringing.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'CONFIG_ISSUE' });
    const answered = await t.runtime.engine.auth(request());
    await phone.play('answer');
    t.clock.advance(121_000);
    expect(await t.runtime.engine.expireDue()).toBe(1);
    expect(await t.runtime.engine.status(application, answered.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'SUCCESS_NO_PIN_BUT_TIMEOUT' });
    // The call is hung up on whatever it sends next.
    expect(await phone.play('keys', '#')).toEqual({ says: null, waitsForKeys: false });
    // A voice challenge is answered on the phone, not through /respond.
    const open = await t.runtime.engine.auth(request());
    await expect(t.runtime.engine.respond(application, open.txid!, { passcode: '#' })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});
