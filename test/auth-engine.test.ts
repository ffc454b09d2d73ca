import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';
import { addToken, authFixture } from './helpers/auth.js';
import { hotp, timeStep } from '../src/modules/methods/oath/otp.js';
import { base32Decode } from '../src/modules/methods/oath/base32.js';

describe.each(DIALECTS)('authentication engine on %s', (dialect) => {
  let t: TestRuntime;
  beforeEach(async () => {
    t = await createTestRuntime(dialect);
  });
  afterEach(() => t.dispose());

  const db = () => t.runtime.storage.db;
  const lastAttempt = () => db().selectFrom('auth_attempts').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
  const lastSignin = () => db().selectFrom('signins').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();

  it('verifies a TOTP code and records the attempt and the sign-in', async () => {
    const { token, request, user } = await authFixture(t.runtime);
    const answer = await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }));
    expect(answer).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED', detail: 'successfully completed', status_msg: 'OATH code verified' });
    expect(await lastAttempt()).toMatchObject({
      user_id: user.id,
      username: 'alice@contoso.com',
      method: 'oath',
      oath_mode: 'standard',
      auth_type: 'vpn',
      result: 'SUCCESS_OATH_CODE_VERIFIED',
      caller_ip: '198.51.100.7',
      entry_point: 'http_api',
      call_mode: null,
      device_type: 'oath_software_totp',
    });
    expect(Boolean((await lastAttempt()).authenticated)).toBe(true);
    const signin = await lastSignin();
    expect(signin).toMatchObject({ status: 'success', policy: 'per-user MFA', method: 'oath', result_code: 'SUCCESS_OATH_CODE_VERIFIED', detail: 'successfully completed' });
    // Written together (on PostgreSQL in one statement): the sign-in names its attempt record.
    expect(Number(signin.attempt_id)).toBe(Number((await lastAttempt()).id));
    expect((await lastAttempt()).user_group).toBeNull();
    expect(Boolean(signin.mfa_required)).toBe(true);
    expect(JSON.parse(signin.steps)).toEqual([expect.objectContaining({ method: 'oath', result_code: 'SUCCESS_OATH_CODE_VERIFIED', succeeded: true })]);
    expect(JSON.parse(signin.trace).map((entry: { rule: string }) => entry.rule)).toEqual([
      'account_disabled',
      'lockout',
      'throttle',
      'user_blocked',
      'conditional_access',
      'conditional_access',
      'trusted_broker',
      'token_claim',
      'remembered_device',
      'app_password',
      'bypass',
      'cache',
      'phone_busy',
    ]);
    expect(JSON.parse(signin.trace)[4]).toEqual({ rule: 'conditional_access', policy: 'per-user MFA', applied: true, outcome: 'continue', code: 'policy_applied', details: { grant: 'mfa' }, reason: expect.any(String) });
    // Every entry carries its rule's reason code, and the code's text.
    expect(JSON.parse(signin.trace).map((entry: { code: string }) => entry.code)).toEqual([
      'account_enabled',
      'no_open_block',
      'under_failure_limits',
      'not_blocked',
      'policy_applied',
      'mfa_required',
      'not_a_broker_flow',
      'no_claim_token',
      'no_remember_token',
      'no_app_password',
      'no_bypass',
      'cache_off',
      'none_in_progress',
    ]);
  });

  it("names the user's groups in the attempt record, by name", async () => {
    const { token, request } = await authFixture(t.runtime);
    for (const name of ['vpn users', 'Finance']) await t.runtime.groups.create({ name }, testActor);
    await t.runtime.groups.addMembers('vpn users', ['alice@contoso.com'], testActor);
    await t.runtime.groups.addMembers('Finance', ['alice@contoso.com'], testActor);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    expect((await lastAttempt()).user_group).toBe('Finance;vpn users');
  });

  it('refuses a used code as duplicate, an older one as old, and a wrong one as incorrect', async () => {
    const { token, request } = await authFixture(t.runtime);
    const now = t.clock.now();
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    expect(await t.runtime.engine.auth(request({ passcode: token.code(now) }))).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_CODE_DUPLICATE', detail: 'verification code already used once' });
    expect(await t.runtime.engine.auth(request({ passcode: token.code(now, -1) }))).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_CODE_OLD' });
    const wrong = token.code(now) === '000000' ? '000001' : '000000';
    expect(await t.runtime.engine.auth(request({ passcode: wrong }))).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_CODE_INCORRECT', detail: 'user entered incorrect code' });
    expect(await t.runtime.engine.auth(request({ passcode: 'abc' }))).toMatchObject({ result_code: 'FAILED_OATH_CODE_INCORRECT' });
    t.clock.advance(30_000);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
  });

  it('lets only one of two concurrent requests with the same code succeed', async () => {
    const { token, request } = await authFixture(t.runtime);
    const code = token.code(t.clock.now());
    const answers = await Promise.all([1, 2, 3, 4].map(() => t.runtime.engine.auth(request({ passcode: code }))));
    const codes = answers.map((answer) => answer.result_code).sort();
    expect(codes.filter((code) => code === 'SUCCESS_OATH_CODE_VERIFIED')).toHaveLength(1);
    expect(codes.filter((code) => code !== 'SUCCESS_OATH_CODE_VERIFIED').every((code) => code === 'FAILED_OATH_CODE_DUPLICATE' || code === 'FAILED_PHONE_BUSY')).toBe(true);
    const used = await db().selectFrom('oath_tokens').select('last_used').where('id', '=', token.id).executeTakeFirstOrThrow();
    expect(Number(used.last_used)).toBe(Math.floor(t.clock.now() / 30_000));
  });

  it('accepts codes one step either side (the window) and not further', async () => {
    const { token, request } = await authFixture(t.runtime);
    const now = t.clock.now();
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now, 2) }))).result_code).toBe('FAILED_OATH_CODE_INCORRECT');
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now, 1) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
  });

  it('verifies HOTP with look-ahead and refuses a replayed counter', async () => {
    const { request, user } = await authFixture(t.runtime, 'hotp@contoso.com');
    await db().deleteFrom('oath_tokens').where('user_id', '=', user.id).execute();
    const token = await addToken(t.runtime, user.id, 'hotp');
    expect((await t.runtime.engine.auth(request({ username: 'hotp@contoso.com', passcode: token.code(0, 3) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    expect((await t.runtime.engine.auth(request({ username: 'hotp@contoso.com', passcode: token.code(0, 3) }))).result_code).toBe('FAILED_OATH_CODE_DUPLICATE');
    // Older than the last one used (SPEC.md §2; `oathtool --hotp -c 3`, then `-c 2`).
    expect((await t.runtime.engine.auth(request({ username: 'hotp@contoso.com', passcode: token.code(0, 2) }))).result_code).toBe('FAILED_OATH_CODE_OLD');
    expect((await t.runtime.engine.auth(request({ username: 'hotp@contoso.com', passcode: token.code(0, 4) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
  });

  it('checks the PIN typed before the code in PIN mode, without using the code up on a wrong PIN', async () => {
    const { token, request, user } = await authFixture(t.runtime, 'pin@contoso.com', { pin: '4821' });
    await t.runtime.directory.update(user.username, { oath_mode: 'pin' }, testActor);
    const code = token.code(t.clock.now());
    expect(await t.runtime.engine.auth(request({ username: 'pin@contoso.com', passcode: `9999${code}` }))).toMatchObject({
      result_code: 'FAILED_OATH_CODE_PIN_INCORRECT',
      detail: 'user entered incorrect PIN',
    });
    expect((await t.runtime.engine.auth(request({ username: 'pin@contoso.com', passcode: code }))).result_code).toBe('FAILED_OATH_CODE_INCORRECT');
    expect((await t.runtime.engine.auth(request({ username: 'pin@contoso.com', passcode: `4821${code}` }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    expect((await lastAttempt()).oath_mode).toBe('pin');
  });

  it('opens a challenge without a passcode, refuses a second request as busy, and completes on the response', async () => {
    const { token, request, application } = await authFixture(t.runtime);
    const waiting = await t.runtime.engine.auth(request());
    expect(waiting).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_OATH_CODE_PENDING', detail: 'authentication in-progress', prompt: 'Enter the code from your OATH token' });
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_BUSY', detail: 'duplicate authentication attempt' });
    expect(await t.runtime.engine.status(application, waiting.txid!, 0)).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_OATH_CODE_PENDING' });
    const done = await t.runtime.engine.respond(application, waiting.txid!, { passcode: token.code(t.clock.now()) });
    expect(done).toMatchObject({ txid: waiting.txid, result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED' });
    expect(await t.runtime.engine.status(application, waiting.txid!, 0)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED' });
    expect(await t.runtime.engine.respond(application, waiting.txid!, { passcode: '123456' })).toMatchObject({ result: 'allow' });
    expect(await db().selectFrom('signins').select('id').execute()).toHaveLength(2);
  });

  it('ends an unanswered challenge with FAILED_OATH_TOKEN_TIMEOUT', async () => {
    const { request, application } = await authFixture(t.runtime);
    const waiting = await t.runtime.engine.auth(request());
    t.clock.advance(121_000);
    expect(await t.runtime.engine.status(application, waiting.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_TOKEN_TIMEOUT', detail: 'user never entered the verification code' });
    expect((await lastAttempt()).result).toBe('FAILED_OATH_TOKEN_TIMEOUT');
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'waiting' });
  });

  it('keeps the TOTP window on the server time: codes ever further ahead never walk it (no learned drift)', async () => {
    const { request, token } = await authFixture(t.runtime);
    const now = t.clock.now();
    // A phone a step fast passes; codes further ahead do not, and do not move the window.
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now, 1) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    for (let ahead = 2; ahead <= 5; ahead += 1) {
      expect((await t.runtime.engine.auth(request({ passcode: token.code(now, ahead) }))).result_code, `+${ahead} steps`).toBe('FAILED_OATH_CODE_INCORRECT');
    }
    // Two steps later, the code of the server's own time passes.
    t.clock.advance(60_000);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
  });

  it("keeps the next step's code good after a TOTP token is activated with the previous step's code", async () => {
    const { request, user } = await authFixture(t.runtime, 'fresh@contoso.com');
    await db().deleteFrom('oath_tokens').where('user_id', '=', user.id).execute();
    const { token, secret } = await t.runtime.oathTokens.enrollSoftware('fresh@contoso.com', {}, testActor);
    const params = { secret: base32Decode(secret)!, algorithm: 'SHA1' as const, digits: 6 as const };
    const step = timeStep(t.clock.now(), 30);
    await t.runtime.oathTokens.activate('fresh@contoso.com', token.id, hotp(params, step - 1), testActor);
    expect((await t.runtime.engine.auth(request({ username: 'fresh@contoso.com', passcode: hotp(params, step + 1) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
  });

  it('answers a passcode given without a factor at once, as an OATH code, even when the default would push', async () => {
    const { request, token, user } = await authFixture(t.runtime);
    await t.runtime.storage.db.updateTable('users').set({ default_method: 'voice' }).where('id', '=', user.id).execute();
    expect(await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED' });
    t.clock.advance(30_000);
    const wrong = token.code(t.clock.now()) === '000000' ? '000001' : '000000';
    expect(await t.runtime.engine.auth(request({ passcode: wrong }))).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_CODE_INCORRECT' });
    expect(await db().selectFrom('challenges').select('id').execute()).toEqual([]);
  });

  it('ends a challenge answered too late with its timeout code, recorded for its user', async () => {
    const { request, application, token, user } = await authFixture(t.runtime);
    const waiting = await t.runtime.engine.auth(request());
    t.clock.advance(121_000);
    expect(await t.runtime.engine.respond(application, waiting.txid!, { passcode: token.code(t.clock.now()) })).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_TOKEN_TIMEOUT' });
    expect(await lastSignin()).toMatchObject({ user_id: user.id, username: 'alice@contoso.com', result_code: 'FAILED_OATH_TOKEN_TIMEOUT' });
    expect(await lastAttempt()).toMatchObject({ user_id: user.id, username: 'alice@contoso.com' });
  });

  it('sweeps expired challenges so their records are written without a poll', async () => {
    const { request } = await authFixture(t.runtime);
    await t.runtime.engine.auth(request());
    t.clock.advance(121_000);
    expect(await t.runtime.engine.expireDue()).toBe(1);
    expect((await lastSignin()).result_code).toBe('FAILED_OATH_TOKEN_TIMEOUT');
    expect(await t.runtime.engine.expireDue()).toBe(0);
  });

  it('keeps challenges of one application hidden from another', async () => {
    const { request } = await authFixture(t.runtime);
    const waiting = await t.runtime.engine.auth(request());
    const other = await t.runtime.applications.create({ name: 'Other' }, testActor);
    await expect(t.runtime.engine.status({ id: other.application.id, name: 'Other' }, waiting.txid!, 0)).rejects.toThrow('does not exist');
  });

  it('answers a user that does not exist without revealing more', async () => {
    const { request } = await authFixture(t.runtime);
    expect(await t.runtime.engine.auth(request({ username: 'nobody@contoso.com', passcode: '123456' }))).toMatchObject({ result: 'deny', result_code: null, detail: 'user not found' });
    expect(await lastSignin()).toMatchObject({ username: 'nobody@contoso.com', user_id: null, detail: 'user not found', policy: 'user_lookup' });
    expect(await db().selectFrom('auth_attempts').select('id').execute()).toHaveLength(0);
  });

  it('needs no second factor when the MFA state is Disabled, and refuses a disabled account', async () => {
    const { request } = await authFixture(t.runtime, 'nomfa@contoso.com', { mfa_state: 'Disabled' });
    expect(await t.runtime.engine.auth(request({ username: 'nomfa@contoso.com' }))).toMatchObject({ result: 'allow', result_code: null });
    expect(Boolean((await lastSignin()).mfa_required)).toBe(false);
    await t.runtime.directory.update('nomfa@contoso.com', { account_enabled: false }, testActor);
    expect(await t.runtime.engine.auth(request({ username: 'nomfa@contoso.com' }))).toMatchObject({ result: 'deny', result_code: null });
    expect((await lastSignin()).policy).toBe('account_disabled');
  });

  it('says enroll when the user has no method (registration prompted); denies a legacy client, which cannot register, and an Enforced user', async () => {
    const { request, user } = await authFixture(t.runtime);
    await db().deleteFrom('oath_tokens').where('user_id', '=', user.id).execute();
    await t.runtime.directory.update(user.username, { phone: null }, testActor); // no text messages either
    expect(await t.runtime.engine.preauth(request())).toMatchObject({ result: 'enroll', detail: 'registration prompted' });
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'enroll', detail: 'registration prompted' });
    expect(await lastSignin()).toMatchObject({ status: 'success', policy: 'methods', detail: 'registration prompted', result_code: null });
    expect(await t.runtime.engine.auth(request({ clientType: 'legacy' }))).toMatchObject({ result: 'deny', detail: 'user does not have any verification methods registered' });
    expect(await lastSignin()).toMatchObject({ status: 'failure', client_type: 'legacy', detail: 'user does not have any verification methods registered' });
    await t.runtime.directory.update(user.username, { mfa_state: 'Enforced' }, testActor);
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'deny', detail: 'user does not have any verification methods registered' });
  });

  it('denies a user with no method when registration is not prompted (access.registrationPrompt false)', async () => {
    await t.dispose();
    t = await createTestRuntime(dialect, { access: { registrationPrompt: false } });
    const { request, user } = await authFixture(t.runtime);
    await db().deleteFrom('oath_tokens').where('user_id', '=', user.id).execute();
    await t.runtime.directory.update(user.username, { phone: null }, testActor);
    expect(await t.runtime.engine.preauth(request())).toMatchObject({ result: 'deny', detail: 'user does not have any verification methods registered' });
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'deny', detail: 'user does not have any verification methods registered' });
  });

  it('lists methods and devices at preauth without recording a sign-in', async () => {
    const { request, token } = await authFixture(t.runtime);
    expect(await t.runtime.engine.preauth(request())).toMatchObject({
      result: 'auth',
      methods: [
        { method: 'oath', devices: [{ id: token.id, name: 'test token', type: 'software_totp' }] },
        { method: 'sms', devices: [{ id: 'phone1', name: '+1••••0123', type: 'phone' }] },
        { method: 'voice', devices: [{ id: 'phone1', name: '+1••••0123', type: 'phone' }] },
      ],
    });
    expect(await t.runtime.engine.preauth(request({ username: 'ghost' }))).toMatchObject({ result: 'unknown_user', detail: 'user not found' });
    expect((await db().selectFrom('signins').select('policy').execute()).map((row) => row.policy)).toEqual(['user_lookup']);
  });
});
