import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticatedApplication } from '../src/modules/applications/applications.js';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { voiceMethod } from '../src/modules/methods/voice/method.js';
import { playOutboxCall, type OutboxCallAction } from '../src/modules/telephony/outbox.js';
import { Templates } from '../src/modules/telephony/templates.js';
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

  it('keeps the call with its greeting, and says what the call says back', async () => {
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
    // The server hung up after its last words: the call is over in the telephony log too.
    expect(pressed.call).toMatchObject({ status: 'completed' });
    expect(await t.runtime.engine.status(request().application, started.txid!, 0)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_NO_PIN' });
    const attempt = await lastAttempt();
    expect(attempt).toMatchObject({ method: 'voice', call_mode: 'standard', primary_phone_number: '2025550123', primary_result: 'SUCCESS_NO_PIN', result: 'SUCCESS_NO_PIN' });
    expect(Boolean(attempt.primary_authenticated)).toBe(true);
    // The call is over for the challenge: later events hang up.
    expect(await play('keys', '#')).toMatchObject({ says: null, waits_for_keys: false });
  });

  it.each([
    ['a PIN and #', { call_mode: 'pin', pin: '4821' }, [['answer'], ['keys', '4821#']]],
    ['the fraud code', {}, [['answer'], ['keys', '0#']]],
    ['a wrong PIN', { call_mode: 'pin', pin: '4821' }, [['answer'], ['keys', '1111#']]],
  ] as const)('ends a call ended by %s as completed in the telephony log, not in progress', async (_what, fields, actions) => {
    t = await createTestRuntime(dialect);
    const { request } = await voiceFixture(t, fields);
    await call(request, ...(actions as unknown as [OutboxCallAction, string?][]));
    expect(await lastCall()).toMatchObject({ status: 'completed' });
  });

  it('exports the user\'s calls with their status history, and deleting the user deletes them', async () => {
    t = await createTestRuntime(dialect);
    const { request } = await voiceFixture(t);
    await call(request, ['answer'], ['keys', '#']);
    const user = await t.runtime.directory.get('bob@contoso.com');
    const { config, telephony } = t.runtime;
    const voice = voiceMethod(config.voice, { telephony, templates: new Templates(), directory: config.directory, auth: config.auth, reportFraud: async () => 0 });
    const exported = (await voice.exportUserData(db(), user.id)) as { call_log: { number: string; kind: string; history: { status: string }[] }[] };
    expect(exported.call_log).toEqual([expect.objectContaining({ kind: 'call', number: '+12025550123' })]);
    expect(exported.call_log[0]!.history.map((entry) => entry.status)).toEqual(['stored', 'in-progress', 'completed']);
    await t.runtime.directory.delete('bob@contoso.com', testActor);
    expect(await db().selectFrom('telephony_log').select('id').execute()).toEqual([]);
  });
});
