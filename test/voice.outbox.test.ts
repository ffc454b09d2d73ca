import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticatedApplication } from '../src/modules/applications/applications.js';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { playOutboxCall, type OutboxCallAction } from '../src/modules/telephony/outbox.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/** A user with a primary phone and no other method, and the request an application makes for them. */
async function voiceFixture(t: TestRuntime, fields: Record<string, unknown> = {}) {
  const { application: view } = await t.runtime.applications.create({ name: `VPN ${randomBytes(3).toString('hex')}` }, testActor);
  const application: AuthenticatedApplication = { id: view.id, name: view.name };
  await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' }, ...fields }, testActor);
  const request = (extra: Partial<AuthInput> = {}): AuthInput => ({ username: 'bob@contoso.com', application, ip: '198.51.100.9', authType: 'vpn', entryPoint: 'http_api', factor: 'voice', ...extra });
  return { application, request };
}

describe.each(DIALECTS)('voice calls through the outbox on %s', (dialect) => {
  let t: TestRuntime;
  afterEach(() => t.dispose());
  const db = () => t.runtime.storage.db;
  const lastAttempt = () => db().selectFrom('auth_attempts').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
  /** The newest call in the outbox. */
  const lastCall = async () => (await t.runtime.telephony.list({ gateway: 'outbox' })).items.find((item) => item.kind === 'call')!;
  const play = async (action: OutboxCallAction, keys?: string) => playOutboxCall(t.runtime.telephony, t.runtime.engine, (await lastCall()).id, action, keys);

  /** Calls the user, plays `actions` on the call and returns the authentication's end. */
  async function call(request: () => AuthInput, ...actions: [OutboxCallAction, string?][]) {
    const started = await t.runtime.engine.auth(request());
    expect(started).toMatchObject({ result: 'waiting', result_code: null });
    for (const [action, keys] of actions) await play(action, keys);
    return t.runtime.engine.status(request().application, started.txid!, 0);
  }

  it('standard mode: answer and press # (SUCCESS_NO_PIN, authenticated)', async () => {
    t = await createTestRuntime(dialect);
    const { request } = await voiceFixture(t);
    const preauth = await t.runtime.engine.preauth(request());
    expect(preauth.methods).toContainEqual({ method: 'voice', devices: [{ id: 'phone1', name: '+1••••0123', type: 'phone' }] });
    const started = await t.runtime.engine.auth(request());
    expect(started).toMatchObject({ result: 'waiting', result_code: null, status_msg: 'waiting for the user on the phone' });
    const ringing = await lastCall();
    expect(ringing).toMatchObject({ kind: 'call', to: '+12025550123', status: 'stored' });
    expect(ringing.body).toContain('press the pound key');
    const answered = await play('answer');
    expect(answered).toMatchObject({ waits_for_keys: true, call: { status: 'in-progress' } });
    expect(answered.says).toContain('If you are not signing in, press 0 pound to report it.');
    const pressed = await play('keys', '#');
    expect(pressed).toMatchObject({ says: 'You are signed in. Goodbye.', waits_for_keys: false });
    expect(await t.runtime.engine.status(request().application, started.txid!, 0)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_NO_PIN' });
    const attempt = await lastAttempt();
    expect(attempt).toMatchObject({ method: 'voice', call_mode: 'standard', primary_phone_number: '2025550123', primary_result: 'SUCCESS_NO_PIN', result: 'SUCCESS_NO_PIN' });
    expect(Boolean(attempt.primary_authenticated)).toBe(true);
    // The call is over for the challenge: later events hang up.
    expect(await play('keys', '#')).toMatchObject({ says: null, waits_for_keys: false });
  });

  it('maps every way a call can end to its SPEC.md §2 code', async () => {
    t = await createTestRuntime(dialect);
    const { request } = await voiceFixture(t);
    const cases: [[OutboxCallAction, string?][], string, string][] = [
      [[['answer'], ['keys', '1234#']], 'deny', 'SUCCESS_WITH_PIN'],
      [[['answer'], ['keys', '12']], 'deny', 'SUCCESS_WITH_PIN_BUT_TIMEOUT'],
      [[['answer'], ['silence']], 'deny', 'SUCCESS_NO_PIN_BUT_TIMEOUT'],
      [[['voicemail']], 'deny', 'SUCCESS_NO_PIN_BUT_TIMEOUT'],
      [[['fax']], 'deny', 'SUCCESS_INVALID_INPUT'],
      [[['answer'], ['keys', '1*#']], 'deny', 'SUCCESS_INVALID_INPUT'],
      [[['busy']], 'deny', 'CONFIG_ISSUE'],
      [[['no_answer']], 'deny', 'CONFIG_ISSUE'],
      [[['fail']], 'deny', 'CONFIG_ISSUE'],
      [[['answer'], ['hangup']], 'deny', 'FAILED_USER_HUNGUP_ON_US'],
    ];
    for (const [actions, result, code] of cases) {
      t.clock.advance(1000);
      expect(await call(request, ...actions), `${actions.map((a) => a.join(' ')).join(', ')}`).toMatchObject({ result, result_code: code });
    }
  });

  it('PIN mode: the right PIN authenticates, a wrong one or # alone is denied', async () => {
    t = await createTestRuntime(dialect);
    const { request } = await voiceFixture(t, { call_mode: 'pin', pin: '4821' });
    expect(await call(request, ['answer'], ['keys', '4821#'])).toMatchObject({ result: 'allow', result_code: 'SUCCESS_WITH_PIN' });
    t.clock.advance(1000);
    expect(await call(request, ['answer'], ['keys', '1111#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_WITH_PIN', detail: 'user entered incorrect PIN' });
    t.clock.advance(1000);
    expect(await call(request, ['answer'], ['keys', '#'])).toMatchObject({ result: 'deny', result_code: 'SUCCESS_NO_PIN' });
    expect(await lastAttempt()).toMatchObject({ call_mode: 'pin', result: 'SUCCESS_NO_PIN' });
  });
});
