import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticatedApplication } from '../src/modules/applications/applications.js';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { smsMethod } from '../src/modules/methods/sms/method.js';
import type { TelephonyGateway } from '../src/modules/telephony/gateway.js';
import { Templates } from '../src/modules/telephony/templates.js';
import { authFixture } from './helpers/auth.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/** The code in the newest outbox message to the number. */
async function lastCode(t: TestRuntime, to = '+12025550123'): Promise<string> {
  const page = await t.runtime.telephony.list({ gateway: 'outbox' });
  const message = page.items.find((item) => item.to === to);
  const code = /code is (\d+)/.exec(message?.body ?? '')?.[1];
  if (!code) throw new Error(`no code sent to ${to}`);
  return code;
}

/** A user with a primary phone and no other method, and the request an application makes for them. */
async function smsFixture(t: TestRuntime, fields: Record<string, unknown> = {}) {
  const { application: view } = await t.runtime.applications.create({ name: `VPN ${randomBytes(3).toString('hex')}` }, testActor);
  const application: AuthenticatedApplication = { id: view.id, name: view.name };
  const user = await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' }, ...fields }, testActor);
  const request = (extra: Partial<AuthInput> = {}): AuthInput => ({ username: 'bob@contoso.com', application, ip: '198.51.100.9', authType: 'vpn', entryPoint: 'http_api', factor: 'auto', ...extra });
  return { application, user, request };
}

describe.each(DIALECTS)('one-way SMS on %s', (dialect) => {
  let t: TestRuntime;
  afterEach(() => t.dispose());
  const db = () => t.runtime.storage.db;
  const lastAttempt = () => db().selectFrom('auth_attempts').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();

  it('sends a code (SUCCESS_SMS_SENT) and authenticates the user who types it', async () => {
    t = await createTestRuntime(dialect);
    const { application, request } = await smsFixture(t);
    const preauth = await t.runtime.engine.preauth(request());
    expect(preauth.methods).toContainEqual({ method: 'sms', devices: [{ id: 'phone1', name: '+1••••0123', type: 'phone' }] });
    const sent = await t.runtime.engine.auth(request());
    expect(sent).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_SMS_SENT', prompt: 'Enter the code sent to your phone' });
    const code = await lastCode(t);
    expect(code).toMatch(/^\d{6}$/);
    // The challenge keeps a keyed hash of the code, never the code.
    const challenge = await db().selectFrom('challenges').select('state').where('id', '=', sent.txid!).executeTakeFirstOrThrow();
    expect(challenge.state).not.toContain(code);
    const done = await t.runtime.engine.respond(application, sent.txid!, { passcode: code });
    expect(done).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_SENT', status_msg: 'SMS sent' });
    expect(await lastAttempt()).toMatchObject({
      method: 'sms',
      sms_direction: 'one_way',
      sms_mode: 'otp',
      primary_country_code: '1',
      primary_phone_number: '2025550123',
      authenticated: expect.anything(),
      result: 'SUCCESS_SMS_SENT',
    });
    expect(Boolean((await lastAttempt()).authenticated)).toBe(true);
    // Single use: the challenge has ended, and a new one sends a new code the old one does not match.
    t.clock.advance(1000); // the outbox lists newest first
    const again = await t.runtime.engine.auth(request());
    const retry = await t.runtime.engine.respond(application, again.txid!, { passcode: code });
    // (Unless the new code happens to equal the old one: one chance in a million.)
    expect(retry.result_code).toBe((await lastCode(t)) === code ? 'SUCCESS_SMS_SENT' : 'FAILED_SMS_OTP_INCORRECT');
  });

  it('keeps the challenge open after a wrong code and ends it at the last allowed attempt', async () => {
    t = await createTestRuntime(dialect, { sms: { maxOtpAttempts: 3 } });
    const { application, request } = await smsFixture(t);
    const { txid } = await t.runtime.engine.auth(request());
    const code = await lastCode(t);
    const wrong = code === '999999' ? '999998' : '999999';
    expect(await t.runtime.engine.respond(application, txid!, { passcode: wrong })).toMatchObject({ result: 'waiting', result_code: 'FAILED_SMS_OTP_INCORRECT', prompt: 'That was not right. 2 tries left' });
    expect(await t.runtime.engine.respond(application, txid!, { passcode: 'not a code' })).toMatchObject({ result: 'waiting', result_code: 'FAILED_SMS_OTP_INCORRECT' });
    expect(await t.runtime.engine.respond(application, txid!, { passcode: wrong })).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_MAX_OTP_RETRY_REACHED' });
    // The right code after the end changes nothing.
    expect(await t.runtime.engine.respond(application, txid!, { passcode: code })).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_MAX_OTP_RETRY_REACHED' });
    const signin = await db().selectFrom('signins').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(signin).toMatchObject({ result_code: 'FAILED_SMS_MAX_OTP_RETRY_REACHED', detail: 'entered incorrect code too many times' });
    expect(Boolean(signin.counted_failure)).toBe(true);
  });

  it('ends at the first wrong code with FAILED_SMS_OTP_INCORRECT when one attempt is allowed', async () => {
    t = await createTestRuntime(dialect, { sms: { maxOtpAttempts: 1 } });
    const { application, request } = await smsFixture(t);
    const { txid } = await t.runtime.engine.auth(request());
    const code = await lastCode(t);
    const answer = await t.runtime.engine.respond(application, txid!, { passcode: code === '123456' ? '654321' : '123456' });
    expect(answer).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_OTP_INCORRECT', status_msg: 'SMS OTP incorrect' });
  });

  it('asks for the code and the PIN in OTP + PIN mode', async () => {
    t = await createTestRuntime(dialect, { sms: { maxOtpAttempts: 1 } });
    const { application, user, request } = await smsFixture(t, { pin: '4821', sms_mode: 'otp_pin' });
    expect(user.sms_mode).toBe('otp_pin');
    const first = await t.runtime.engine.auth(request());
    expect(first.prompt).toBe('Enter the code sent to your phone followed by your PIN');
    expect((await t.runtime.telephony.list({})).items[0]!.body).toContain('followed by your PIN');
    expect(await t.runtime.engine.respond(application, first.txid!, { passcode: `${await lastCode(t)}4822` })).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_OTP_PIN_INCORRECT' });
    t.clock.advance(1000);
    const second = await t.runtime.engine.auth(request());
    expect(await t.runtime.engine.respond(application, second.txid!, { passcode: await lastCode(t) })).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_OTP_PIN_INCORRECT' });
    t.clock.advance(1000);
    const third = await t.runtime.engine.auth(request());
    expect(await t.runtime.engine.respond(application, third.txid!, { passcode: `${await lastCode(t)} 4821` })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_SENT' });
    expect(await lastAttempt()).toMatchObject({ sms_mode: 'otp_pin', result: 'SUCCESS_SMS_SENT' });
  });

  it('writes the text in the user language', async () => {
    t = await createTestRuntime(dialect);
    const { request } = await smsFixture(t, { language: 'fr' });
    await t.runtime.engine.auth(request());
    expect((await t.runtime.telephony.list({})).items[0]!.body).toMatch(/^Votre code de vérification est \d{6}\./);
  });

  it('denies with FAILED_SMS_NOT_SENT when the gateway refuses the message, and logs why', async () => {
    const refusing: TelephonyGateway = { name: 'refusing', keepsBody: false, sendSms: async () => ({ status: 'failed', providerId: null, error: 'carrier said no' }) };
    const test = await createTestRuntime(dialect, {}, { gateway: refusing });
    t = test;
    const { request } = await smsFixture(t);
    const answer = await t.runtime.engine.auth(request());
    expect(answer).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_NOT_SENT', detail: "unable to reach the user's phone" });
    const [entry] = (await t.runtime.telephony.list({})).items;
    expect(entry).toMatchObject({ gateway: 'refusing', status: 'failed', error: 'carrier said no', body: null, to: '+12025550123' });
    const signin = await db().selectFrom('signins').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(Boolean(signin.counted_failure)).toBe(false);
  });

  it('hands the text to the carrier only after the challenge is committed: a slow carrier holds no other authentication', async () => {
    let release!: () => void;
    const carrierAnswers = new Promise<void>((resolve) => (release = resolve));
    let handed!: () => void;
    const handedOver = new Promise<void>((resolve) => (handed = resolve));
    const slow: TelephonyGateway = {
      name: 'slow',
      keepsBody: false,
      async sendSms() {
        handed();
        await carrierAnswers;
        return { status: 'queued', providerId: 'slow-1' };
      },
    };
    t = await createTestRuntime(dialect, {}, { gateway: slow });
    const { request } = await smsFixture(t);
    const other = await authFixture(t.runtime, 'alice@contoso.com', { phone: null });
    const waiting = t.runtime.engine.auth(request());
    await handedOver;
    // The carrier has not answered; the challenge and its log entry are already committed, and others authenticate meanwhile.
    expect((await t.runtime.telephony.list({})).items[0]).toMatchObject({ status: 'sending', history: [] });
    const passcode = other.token.code(t.clock.now());
    expect(await t.runtime.engine.auth(other.request({ passcode }))).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED' });
    release();
    expect(await waiting).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_SMS_SENT' });
    expect((await t.runtime.telephony.list({})).items[0]).toMatchObject({ status: 'queued', provider_id: 'slow-1', history: [expect.objectContaining({ status: 'queued' })] });
  });
});

describe('the telephony log as personal data (sqlite)', () => {
  it('is exported with the user’s methods and deleted with the user', async () => {
    const t = await createTestRuntime('sqlite');
    try {
      const { request } = await smsFixture(t);
      await t.runtime.engine.auth(request());
      const sms = smsMethod(t.runtime.config.sms, t.runtime.telephony, new Templates());
      const user = await t.runtime.directory.get('bob@contoso.com');
      const exported = (await sms.exportUserData(t.runtime.storage.db, user.id)) as { sms_log: { number: string; kind: string }[] };
      expect(exported.sms_log).toEqual([expect.objectContaining({ number: '+12025550123', kind: 'sms' })]);
      await t.runtime.directory.delete('bob@contoso.com', testActor);
      expect(await t.runtime.storage.db.selectFrom('telephony_log').select('id').execute()).toEqual([]);
    } finally {
      await t.dispose();
    }
  });
});
