import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/schema.js';
import type { MethodName, VerificationMethod } from '../src/modules/methods/contract.js';
import { ClaimIssuers } from '../src/modules/access/claims.js';
import { AuthEngine } from '../src/modules/auth/engine.js';
import { oathMethod } from '../src/modules/methods/oath/method.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';
import { authFixture } from './helpers/auth.js';

describe.each(DIALECTS)('authentication policies on %s', (dialect) => {
  let t: TestRuntime;
  const start = async (overrides: Record<string, unknown> = {}) => {
    t = await createTestRuntime(dialect, overrides);
    return t;
  };
  afterEach(() => t.dispose());

  const db = () => t.runtime.storage.db;
  const lastSignin = () => db().selectFrom('signins').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();

  it('uses a one-time bypass once, and records it used', async () => {
    await start();
    const { request } = await authFixture(t.runtime);
    const granted = await t.runtime.bypasses.grant('alice@contoso.com', { seconds: 300, reason: 'lost phone' }, testActor);
    expect(granted).toMatchObject({ duration_seconds: 300, bypass_reason: 'lost phone', bypass_used: false, completed_at: null, phone_number: '2025550123', formatted_phone_number: '+1 202 555 0123' });
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'allow', result_code: 'SUCCESS_BYPASSED_AUTH', detail: 'successfully completed' });
    const [record] = (await t.runtime.bypasses.history({ username: 'alice@contoso.com' })).items;
    expect(record).toMatchObject({ bypass_used: true, completion_reason: 'used', completed_at: expect.any(String) });
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'waiting' });
  });

  it('lets an unused bypass expire, and cancels one on request', async () => {
    await start();
    const { request } = await authFixture(t.runtime);
    await t.runtime.bypasses.grant('alice@contoso.com', { seconds: 60, reason: 'travel' }, testActor);
    t.clock.advance(61_000);
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'waiting' });
    await t.runtime.bypasses.grant('alice@contoso.com', { seconds: 60, reason: 'again' }, testActor);
    await t.runtime.bypasses.cancel('alice@contoso.com', testActor);
    const reasons = (await t.runtime.bypasses.history({})).items.map((item) => [item.bypass_reason, item.completion_reason, item.bypass_used]);
    expect(reasons).toEqual([
      ['again', 'cancelled', false],
      ['travel', 'expired', false],
    ]);
    await expect(t.runtime.bypasses.grant('alice@contoso.com', { seconds: 0, reason: 'x' }, testActor)).rejects.toThrow('seconds');
  });

  it('denies a blocked user with SUCCESS_USER_BLOCKED until unblocked', async () => {
    await start();
    const { request, token } = await authFixture(t.runtime);
    await t.runtime.bypasses.grant('alice@contoso.com', { seconds: 300, reason: 'does not undo a block' }, testActor);
    const block = await t.runtime.blocks.block('alice@contoso.com', 'reported stolen', testActor);
    expect(block).toMatchObject({ blocked: true, block_reason: 'reported stolen', account_lockout: false, fraud_alert: false, blocked_by: 'cli:tester', language: 'en' });
    expect(await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).toMatchObject({ result: 'deny', result_code: 'SUCCESS_USER_BLOCKED', detail: 'user is blocked' });
    expect(await t.runtime.engine.preauth(request())).toMatchObject({ result: 'deny', result_code: 'SUCCESS_USER_BLOCKED' });
    const unblocked = await t.runtime.blocks.unblock('alice@contoso.com', 'found', testActor);
    expect(unblocked).toMatchObject({ blocked: false, completion_reason: 'found', completed_at: expect.any(String) });
    await expect(t.runtime.blocks.unblock('alice@contoso.com', 'again', testActor)).rejects.toThrow('is not blocked');
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'allow', result_code: 'SUCCESS_BYPASSED_AUTH' });
  });

  it('locks a user out after too many wrong codes, with an account-lockout block record, and lets them in after', async () => {
    await start();
    const { request, token } = await authFixture(t.runtime);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect((await t.runtime.engine.auth(request({ passcode: '000000' === token.code(t.clock.now()) ? '111111' : '000000' }))).result_code).toBe('FAILED_OATH_CODE_INCORRECT');
    }
    expect(await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).toMatchObject({ result: 'deny', result_code: 'FAILED_AUTHENTICATION_THROTTLED' });
    const [lockout] = (await t.runtime.blocks.history({ username: 'alice@contoso.com' })).items;
    expect(lockout).toMatchObject({ account_lockout: true, blocked: true, blocked_by: 'system:throttle', completed_at: null });
    t.clock.advance(14 * 60_000);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('FAILED_AUTHENTICATION_THROTTLED');
    t.clock.advance(2 * 60_000);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    const [ended] = (await t.runtime.blocks.history({ username: 'alice@contoso.com' })).items;
    expect(ended).toMatchObject({ completion_reason: 'lockout ended', blocked: false });
  });

  it('keeps an online guesser under 1 in 10,000 per day with the default limits (fake clock, one guess a second)', async () => {
    await start();
    const { request, token } = await authFixture(t.runtime);
    const config: Config = t.runtime.config;
    let guesses = 0;
    let throttled = 0;
    const dayEnds = t.clock.now() + 24 * 3600_000;
    // A guesser never knows the code: each guess is checked against the real code only to make sure it is wrong.
    while (t.clock.now() < dayEnds) {
      const real = token.code(t.clock.now());
      const answer = await t.runtime.engine.auth(request({ passcode: real === '000000' ? '000001' : '000000' }));
      if (answer.result_code === 'FAILED_AUTHENTICATION_THROTTLED') throttled += 1;
      else guesses += 1;
      // While locked out, the guesser waits a minute between tries; otherwise it guesses again right away.
      t.clock.advance(answer.result_code === 'FAILED_AUTHENTICATION_THROTTLED' ? 60_000 : 1_000);
    }
    const codesAcceptedPerGuess = 2 * config.oath.totpWindow + 1;
    const chance = (guesses * codesAcceptedPerGuess) / 10 ** 6;
    expect(guesses).toBeLessThanOrEqual(config.auth.userDailyFailureLimit);
    expect(chance).toBeLessThan(1e-4);
    expect(throttled).toBeGreaterThan(0);
  }, 120_000);

  it('throttles a client IP that fails for many users, and unknown user names count', async () => {
    await start({ auth: { ipFailureLimit: 3 } });
    const { request } = await authFixture(t.runtime);
    for (const name of ['x1', 'x2', 'x3']) expect((await t.runtime.engine.auth(request({ username: name }))).detail).toBe('user not found');
    expect(await t.runtime.engine.auth(request({ username: 'x4' }))).toMatchObject({ result_code: 'FAILED_AUTHENTICATION_THROTTLED' });
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result_code: 'FAILED_AUTHENTICATION_THROTTLED' });
    expect(await t.runtime.engine.auth(request({ ip: '203.0.113.9' }))).toMatchObject({ result: 'waiting' });
  });

  it.each([
    ['user', 'SUCCESS_USED_CACHE'],
    ['app', 'SUCCESS_USED_APP_BASED_CACHE'],
    ['ip', 'SUCCESS_USED_IP_BASED_CACHE'],
  ] as const)('skips the challenge within the %s cache window', async (kind, code) => {
    await start({ auth: { cacheKind: kind, cacheSeconds: 300 } });
    const { request, token } = await authFixture(t.runtime);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'allow', result_code: code, detail: 'satisfied by strong authentication' });
    const other = await t.runtime.applications.create({ name: 'Other app' }, testActor);
    const otherApp = { id: other.application.id, name: other.application.name };
    expect((await t.runtime.engine.auth(request({ application: otherApp }))).result).toBe(kind === 'user' ? 'allow' : 'waiting');
    t.clock.advance(301_000);
    expect((await t.runtime.engine.auth(request())).result_code).not.toBe(code);
    if (kind === 'ip') {
      await t.dispose();
      const fresh = await start({ auth: { cacheKind: kind, cacheSeconds: 300 } });
      const again = await authFixture(fresh.runtime);
      await fresh.runtime.engine.auth(again.request({ passcode: again.token.code(fresh.clock.now()) }));
      expect((await fresh.runtime.engine.auth(again.request({ ip: '203.0.113.1' }))).result).toBe('waiting');
    }
  });

  it('ends a whole authentication that outlives auth.resultTimeoutSeconds with FAILED_AUTH_RESULT_TIMEOUT', async () => {
    await start({ auth: { challengeTimeoutSeconds: 120, resultTimeoutSeconds: 60 } });
    const { request, application } = await authFixture(t.runtime);
    const waiting = await t.runtime.engine.auth(request());
    t.clock.advance(61_000);
    expect(await t.runtime.engine.status(application, waiting.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'FAILED_AUTH_RESULT_TIMEOUT', detail: 'user never entered the verification code' });
  });

  describe('fallback', () => {
    /** A stand-in primary method that is always denied, as an unanswered phone call would be. */
    const unreachablePhone: VerificationMethod = {
      name: 'voice' as MethodName,
      timeoutCode: 'FAILED_AUTH_RESULT_TIMEOUT',
      fallback: null,
      describe: async () => ({ method: 'voice', devices: [{ id: 'phone', name: '+1 202 555 0123', type: 'phone' }] }),
      start: async () => ({ status: 'done', code: 'CONFIG_ISSUE', authenticated: false, countsAsFailure: false, fields: { primary_result: 'CONFIG_ISSUE', primary_authenticated: 0 } }),
      respond: async () => ({ status: 'done', code: 'CONFIG_ISSUE', authenticated: false }),
      exportUserData: async () => ({}),
      deleteUserData: async () => ({}),
    };

    const engineWith = (methods: VerificationMethod[]) =>
      new AuthEngine({ db: t.runtime.storage.db, transact: (work) => t.runtime.storage.transact(work), clock: t.runtime.clock, keyring: t.runtime.keyring, config: t.runtime.config, blocks: t.runtime.blocks, log: t.runtime.log, methods, claimIssuers: ClaimIssuers.none(), longPollIntervalMs: 1_000 });

    it('completes with an OATH code after the primary method failed: SUCCESS_FALLBACK_OATH_CODE_VERIFIED', async () => {
      await start();
      const { request, token, application } = await authFixture(t.runtime);
      const engine = engineWith([unreachablePhone, oathMethod(t.runtime.config.oath)]);
      const offer = await engine.auth(request({ factor: 'voice' as MethodName }));
      expect(offer).toMatchObject({ result: 'waiting', result_code: 'CONFIG_ISSUE', detail: "unable to reach the user's phone", fallback: ['oath'] });
      const done = await engine.respond(application, offer.txid!, { passcode: token.code(t.clock.now()) });
      expect(done).toMatchObject({ result: 'allow', result_code: 'SUCCESS_FALLBACK_OATH_CODE_VERIFIED', detail: 'successfully completed' });
      const signin = await lastSignin();
      expect(signin).toMatchObject({ policy: 'per-user MFA', method: 'voice', result_code: 'SUCCESS_FALLBACK_OATH_CODE_VERIFIED' });
      expect(JSON.parse(signin.steps).map((step: { result_code: string; succeeded: boolean }) => [step.result_code, step.succeeded])).toEqual([
        ['CONFIG_ISSUE', false],
        ['SUCCESS_FALLBACK_OATH_CODE_VERIFIED', true],
      ]);
      const attempt = await db().selectFrom('auth_attempts').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
      expect(attempt).toMatchObject({ primary_result: 'CONFIG_ISSUE', result: 'SUCCESS_FALLBACK_OATH_CODE_VERIFIED' });
    });

    it('ends with the fallback timeout when nobody answers the fallback', async () => {
      await start();
      const { request, application } = await authFixture(t.runtime);
      const engine = engineWith([unreachablePhone, oathMethod(t.runtime.config.oath)]);
      const offer = await engine.auth(request({ factor: 'voice' as MethodName }));
      t.clock.advance(121_000);
      expect(await engine.status(application, offer.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_TOKEN_TIMEOUT' });
    });

    const withQuestions = async () => {
      await start({ auth: { fallbackQuestions: true } });
      const fixture = await authFixture(t.runtime);
      const ids: string[] = [];
      for (const text of ['First pet?', 'Birth town?', 'First school?']) ids.push((await t.runtime.securityQuestions.addQuestion(text, testActor)).id);
      await t.runtime.securityQuestions.register('alice@contoso.com', ids.map((id, index) => ({ question_id: id, answer: `answer number ${index}` })), testActor);
      const answerFor = (id: string) => `Answer Number ${ids.indexOf(id)}!`;
      const wrong = fixture.token.code(t.clock.now()) === '000000' ? '000001' : '000000';
      return { ...fixture, answerFor, wrong };
    };

    it('completes with security questions after a wrong code: SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED', async () => {
      const { request, application, answerFor, wrong } = await withQuestions();
      const offer = await t.runtime.engine.auth(request({ passcode: wrong }));
      expect(offer).toMatchObject({ result: 'waiting', result_code: 'FAILED_OATH_CODE_INCORRECT', fallback: ['questions'] });
      expect(offer.questions).toHaveLength(2);
      const answers = Object.fromEntries(offer.questions!.map((question) => [question.id, answerFor(question.id)]));
      expect(await t.runtime.engine.respond(application, offer.txid!, { answers })).toMatchObject({
        result: 'allow',
        result_code: 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED',
        detail: 'successfully completed',
      });
      expect(await lastSignin()).toMatchObject({ policy: 'per-user MFA', method: 'oath' });
    });

    it('keeps the primary denial when the answers are wrong', async () => {
      const { request, application, wrong } = await withQuestions();
      const offer = await t.runtime.engine.auth(request({ passcode: wrong }));
      const answers = Object.fromEntries(offer.questions!.map((question) => [question.id, 'no idea']));
      expect(await t.runtime.engine.respond(application, offer.txid!, { answers })).toMatchObject({ result: 'deny', result_code: 'FAILED_OATH_CODE_INCORRECT' });
    });

    it('ends with FAILED_SECURITY_QUESTIONS_TIMEOUT when the questions go unanswered', async () => {
      const { request, application, wrong } = await withQuestions();
      const offer = await t.runtime.engine.auth(request({ passcode: wrong }));
      t.clock.advance(121_000);
      expect(await t.runtime.engine.status(application, offer.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'FAILED_SECURITY_QUESTIONS_TIMEOUT', detail: 'user never entered the verification code' });
      const steps = JSON.parse((await lastSignin()).steps).map((step: { method: string; result_code: string }) => [step.method, step.result_code]);
      expect(steps).toEqual([
        ['oath', 'FAILED_OATH_CODE_INCORRECT'],
        ['questions', 'FAILED_SECURITY_QUESTIONS_TIMEOUT'],
      ]);
    });

    it('offers no fallback when the configuration turns it off', async () => {
      await start({ auth: { fallbackOath: false } });
      const { request } = await authFixture(t.runtime);
      const engine = engineWith([unreachablePhone, oathMethod(t.runtime.config.oath)]);
      expect(await engine.auth(request({ factor: 'voice' as MethodName }))).toMatchObject({ result: 'deny', result_code: 'CONFIG_ISSUE' });
    });
  });
});

describe.each(DIALECTS)('fraud reports on %s', (dialect) => {
  it.each([true, false])('with auth.fraudAutoBlock = %s', async (autoBlock) => {
    const t = await createTestRuntime(dialect, { auth: { fraudAutoBlock: autoBlock } });
    try {
      const { request, user } = await authFixture(t.runtime);
      await t.runtime.storage.db.transaction().execute(async (trx) => {
        const row = (await trx.selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow());
        await t.runtime.blocks.reportFraudInTransaction(trx, row, 'voice fraud code', t.runtime.config.auth.fraudAutoBlock);
      });
      const [record] = (await t.runtime.blocks.history({})).items;
      expect(record).toMatchObject({ fraud_alert: true, fraud_alert_not_blocked: !autoBlock, blocked: autoBlock, block_reason: 'fraud reported (voice fraud code)' });
      expect((await t.runtime.engine.auth(request())).result_code).toBe(autoBlock ? 'SUCCESS_USER_BLOCKED' : 'SUCCESS_OATH_CODE_PENDING');
    } finally {
      await t.dispose();
    }
  });
});
