import { afterEach, describe, expect, it } from 'vitest';
import { startAppServer } from './helpers/app-server.js';
import { addToken, type TestToken } from './helpers/auth.js';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const OLD = 'correct horse battery';
const NEW = 'staple-gun-lantern-42';

describe.each(DIALECTS)('self-service password reset on %s', (dialect) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let token: TestToken;
  afterEach(() => t.dispose());

  /** A user with a password, a phone, an OATH token, a reset e-mail and three security answers. */
  async function start(overrides: Record<string, unknown> = {}) {
    t = await createTestApp(dialect, overrides);
    const user = await t.runtime.directory.create({ username: 'dana@contoso.com', phone: { number: '2025550160' } }, testActor);
    token = await addToken(t.runtime, user.id);
    await t.runtime.selfService.setPassword('dana@contoso.com', OLD, testActor);
    for (const text of ['First pet?', 'Birth town?', 'First school?']) await t.runtime.securityQuestions.addQuestion(text, testActor);
  }
  const basic = (password = OLD, username = 'dana@contoso.com') => ({ authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` });
  const call = async (method: string, url: string, payload?: object, headers: Record<string, string> = {}) => {
    const response = await t.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
    return { status: response.statusCode, body: (response.body ? response.json() : null) as Record<string, unknown> & { pending?: Record<string, unknown> } };
  };
  const lastMailCode = async () => {
    const row = await t.runtime.storage.db.selectFrom('mail_log').select(['body', 'to_address']).orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirstOrThrow();
    return { to: row.to_address, code: /code to reset your password is (\d{8})/.exec(row.body ?? '')![1]! };
  };
  const events = async () => (await t.runtime.storage.db.selectFrom('sspr_events').select(['step', 'method', 'succeeded']).orderBy('id').execute()).map((row) => `${row.step}:${row.method ?? '-'}:${Number(row.succeeded)}`);

  /** The user registers a reset e-mail and answers, signed in with the password. */
  async function register() {
    expect(await call('PUT', '/self/v1/registration/email', { email: 'dana.private@mail.example' }, basic())).toMatchObject({ status: 204 });
    const questions = (await call('GET', '/self/v1/security-questions', undefined, basic())).body.items as { id: string }[];
    const answers = questions.map((question, index) => ({ question_id: question.id, answer: `Answer ${index}` }));
    expect(await call('PUT', '/self/v1/registration/security-questions', { answers }, basic())).toMatchObject({ status: 204 });
    return questions.map((question) => question.id);
  }

  it('lets a user register an e-mail address and questions, edit and delete them, signed in with the password', async () => {
    await start();
    expect((await call('GET', '/self/v1/registration', undefined, basic())).body).toEqual({ email: null, security_questions: [], methods_available: ['sms', 'oath'] });
    await register();
    const registration = (await call('GET', '/self/v1/registration', undefined, basic())).body;
    expect(registration).toMatchObject({ email: 'dana.private@mail.example', methods_available: ['email', 'sms', 'oath', 'questions'] });
    expect(registration.security_questions).toHaveLength(3);
    expect(await call('PUT', '/self/v1/registration/email', { email: 'not an address' }, basic())).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'email' } });
    expect(await call('DELETE', '/self/v1/registration/email', undefined, basic())).toMatchObject({ status: 204 });
    expect(await call('DELETE', '/self/v1/registration/security-questions', undefined, basic())).toMatchObject({ status: 204 });
    expect((await call('GET', '/self/v1/registration', undefined, basic())).body).toMatchObject({ email: null, security_questions: [] });
    // Changes are recorded as the user's own, in change records and audit.
    const audit = await t.runtime.storage.db.selectFrom('audit_log').select(['action', 'actor_type']).where('actor_type', '=', 'user').orderBy('id').execute();
    expect(audit.map((row) => row.action)).toEqual(['sspr.email_register', 'security_answers.register', 'sspr.email_remove', 'security_answers.clear']);
    // A wrong password, a missing header, an unknown user: the same refusal.
    for (const headers of [basic('wrong'), {}, basic(OLD, 'nobody@contoso.com')]) expect(await call('GET', '/self/v1/registration', undefined, headers)).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
  });

  it('throttles wrong passwords per user', async () => {
    await start({ sspr: { maxSignInFailures: 3 } });
    for (let n = 0; n < 3; n += 1) expect((await call('GET', '/self/v1/registration', undefined, basic('wrong'))).status).toBe(401);
    expect(await call('GET', '/self/v1/registration', undefined, basic())).toMatchObject({ status: 429, body: { code: 'throttled' } });
    t.clock.advance(16 * 60_000);
    expect((await call('GET', '/self/v1/registration', undefined, basic())).status).toBe(200);
  });

  it('throttles a name nobody holds exactly like a real one: throttling tells no names apart', async () => {
    await start({ sspr: { maxSignInFailures: 10, maxResetsPerHour: 5 } });
    await t.runtime.directory.create({ username: 'nomethods@contoso.com' }, testActor);
    const statuses = async (send: () => Promise<{ status: number }>, n: number) => {
      const seen: number[] = [];
      for (let i = 0; i < n; i += 1) seen.push((await send()).status);
      return seen;
    };
    const signIns = (username: string) => statuses(() => call('GET', '/self/v1/registration', undefined, basic('wrong', username)), 12);
    const real = await signIns('dana@contoso.com');
    expect(real).toEqual([...Array(10).fill(401), 429, 429]);
    expect(await signIns('nobody@contoso.com')).toEqual(real);
    // Resets for a user without enough methods and for a name nobody holds: the same answers, in the same order.
    const starts = (username: string) => statuses(() => call('POST', '/self/v1/password-reset', { username }), 7);
    const withoutMethods = await starts('nomethods@contoso.com');
    expect(withoutMethods).toEqual([...Array(5).fill(409), 429, 429]);
    expect(await starts('ghost@contoso.com')).toEqual(withoutMethods);
  });

  it('resets a password with an e-mailed code', async () => {
    await start();
    await register();
    const started = await call('POST', '/self/v1/password-reset', { username: 'DANA@contoso.com' });
    expect(started).toMatchObject({ status: 201, body: { status: 'open', methods_required: 1, methods_passed: [], methods_available: ['email', 'sms', 'oath', 'questions'] } });
    const id = String(started.body.session_id);
    const sent = await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'email' });
    expect(sent.body.pending).toEqual({ method: 'email', prompt: 'Enter the code e-mailed to you', sent_to: 'd•••@mail.example' });
    const { to, code } = await lastMailCode();
    expect(to).toBe('dana.private@mail.example');
    const wrong = code === '00000000' ? '00000001' : '00000000';
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'email', code: wrong })).toMatchObject({ status: 400, body: { code: 'sspr_not_verified', detail: 'email: wrong code' } });
    // Not yet: the password waits for the proof.
    expect(await call('POST', `/self/v1/password-reset/${id}/password`, { password: NEW })).toMatchObject({ status: 409 });
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'email', code })).toMatchObject({ status: 200, body: { status: 'verified', methods_passed: ['email'] } });
    expect(await call('POST', `/self/v1/password-reset/${id}/password`, { password: 'short' })).toMatchObject({ status: 400, body: { field: 'password' } });
    expect(await call('POST', `/self/v1/password-reset/${id}/password`, { password: NEW })).toMatchObject({ status: 204 });
    expect((await call('GET', '/self/v1/registration', undefined, basic(NEW))).status).toBe(200);
    expect((await call('GET', '/self/v1/registration', undefined, basic(OLD))).status).toBe(401);
    // Over: the session cannot be used again.
    expect(await call('POST', `/self/v1/password-reset/${id}/password`, { password: 'another-long-password' })).toMatchObject({ status: 409 });
    expect(await events()).toEqual([
      'sign_in:-:1',
      'register_email:-:1',
      'sign_in:-:1',
      'sign_in:-:1',
      'start:-:1',
      'challenge:email:1',
      'verify:email:0',
      'verify:email:1',
      'password:-:1',
      'sign_in:-:1',
      'sign_in:-:0',
    ]);
    const changes = await t.runtime.storage.db.selectFrom('user_changes').select('changed_fields').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(JSON.parse(changes.changed_fields)).toEqual(['password']);
  });

  it('needs two different methods when the policy says two; proves OATH and SMS through the engine, recorded in the sign-in log; a bypass proves nothing', async () => {
    await start({ sspr: { methodsRequired: 2 } });
    await t.runtime.bypasses.grant('dana@contoso.com', { seconds: 300, reason: 'help desk' }, testActor);
    const id = String((await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).body.session_id);
    t.clock.advance(31_000);
    const wrong = token.code(t.clock.now()) === '000000' ? '000001' : '000000';
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'oath', code: wrong })).toMatchObject({ status: 400, body: { detail: 'oath: FAILED_OATH_CODE_INCORRECT' } });
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'oath', code: token.code(t.clock.now()) })).toMatchObject({ status: 200, body: { status: 'open', methods_passed: ['oath'], methods_available: ['sms'] } });
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'oath', code: token.code(t.clock.now(), 1) })).toMatchObject({ status: 409 });
    expect((await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'sms' })).body.pending).toMatchObject({ method: 'sms', prompt: 'Enter the code sent to your phone' });
    const text = (await t.runtime.telephony.list({ gateway: 'outbox' })).items.find((item) => item.kind === 'sms')!;
    const code = /(\d{6})/.exec(text.body ?? '')![1]!;
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'sms', code })).toMatchObject({ status: 200, body: { status: 'verified', methods_passed: ['oath', 'sms'] } });
    expect(await call('POST', `/self/v1/password-reset/${id}/password`, { password: NEW })).toMatchObject({ status: 204 });
    // Each proof is a sign-in of the reset application, through the sspr entry point; the bypass was not used.
    const signins = await t.runtime.storage.db.selectFrom('signins').select(['application', 'entry_point', 'method', 'result_code', 'policy']).orderBy('id').execute();
    expect(signins).toEqual([
      { application: 'Self-service password reset', entry_point: 'sspr', method: 'oath', result_code: 'FAILED_OATH_CODE_INCORRECT', policy: 'identity_proof' },
      { application: 'Self-service password reset', entry_point: 'sspr', method: 'oath', result_code: 'SUCCESS_OATH_CODE_VERIFIED', policy: 'identity_proof' },
      { application: 'Self-service password reset', entry_point: 'sspr', method: 'sms', result_code: 'SUCCESS_SMS_SENT', policy: 'identity_proof' },
    ]);
    expect((await t.runtime.storage.db.selectFrom('bypasses').select('completed_at').executeTakeFirstOrThrow()).completed_at).toBeNull();
  });

  it('proves security questions: exactly the ones asked, all right', async () => {
    await start();
    await register();
    const id = String((await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).body.session_id);
    const asked = (await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'questions' })).body.pending as { questions: { id: string; text: string }[] };
    expect(asked.questions).toHaveLength(2);
    const all = await t.runtime.securityQuestions.listQuestions();
    const answerOf = (questionId: string) => `answer ${all.findIndex((question) => question.id === questionId)}`;
    const other = all.find((question) => !asked.questions.some((q) => q.id === question.id))!;
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'questions', answers: { [asked.questions[0]!.id]: answerOf(asked.questions[0]!.id), [other.id]: answerOf(other.id) } })).toMatchObject({
      status: 400,
      body: { detail: 'questions: answer exactly the questions asked' },
    });
    const answers = Object.fromEntries(asked.questions.map((question) => [question.id, `  ${answerOf(question.id).toUpperCase()}! `]));
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'questions', answers })).toMatchObject({ status: 200, body: { status: 'verified', methods_passed: ['questions'] } });
  });

  it('refuses what it cannot do, ends a reset after five failures, expires it, and throttles starts and failures', async () => {
    await start({ sspr: { maxResetsPerHour: 3, maxFailuresPerDay: 6 } });
    // An unknown user and a user with no method registered are refused alike.
    await t.runtime.directory.create({ username: 'nomethods@contoso.com' }, testActor);
    for (const username of ['nobody@contoso.com', 'nomethods@contoso.com']) {
      expect(await call('POST', '/self/v1/password-reset', { username })).toMatchObject({ status: 409, body: { code: 'sspr_not_registered', detail: `${username} cannot reset a password here: not enough methods are registered for self-service password reset` } });
    }
    const id = String((await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).body.session_id);
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'email' })).toMatchObject({ status: 400, body: { field: 'method' } });
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'fax' })).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect(await call('POST', '/self/v1/password-reset/nope/verify', { method: 'oath', code: '123456' })).toMatchObject({ status: 404 });
    const wrong = token.code(t.clock.now()) === '000000' ? '000001' : '000000';
    for (let n = 0; n < 5; n += 1) expect((await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'oath', code: wrong })).status).toBe(400);
    expect((await call('GET', `/self/v1/password-reset/${id}`)).body).toMatchObject({ status: 'failed', methods_available: [] });
    expect(await call('POST', `/self/v1/password-reset/${id}/verify`, { method: 'oath', code: wrong })).toMatchObject({ status: 409 });
    // Expiry.
    const late = String((await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).body.session_id);
    t.clock.advance(16 * 60_000);
    expect(await call('POST', `/self/v1/password-reset/${late}/verify`, { method: 'oath', code: token.code(t.clock.now()) })).toMatchObject({ status: 409, body: { detail: 'the password reset has expired; start again' } });
    // Starts per hour (3 made so far, counting the refused ones of other users not at all).
    expect((await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).status).toBe(201);
    expect(await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).toMatchObject({ status: 429, body: { code: 'throttled' } });
    t.clock.advance(61 * 60_000);
    // Failures per day: five so far; one more reaches the limit of six, and the next start is refused for the day.
    const again = String((await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).body.session_id);
    expect((await call('POST', `/self/v1/password-reset/${again}/verify`, { method: 'oath', code: wrong })).status).toBe(400);
    expect(await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).toMatchObject({ status: 429 });
    t.clock.advance(24 * 60 * 60_000);
    expect((await call('POST', '/self/v1/password-reset', { username: 'dana@contoso.com' })).status).toBe(201);
  });

  it('lets administrators set a password and remove the reset e-mail, within the method rules', async () => {
    await start();
    await register();
    expect(await call('PUT', '/admin/v1/users/dana@contoso.com/password', { password: 'short' }, await t.as('authentication_administrator'))).toMatchObject({ status: 400, body: { field: 'password' } });
    expect(await call('PUT', '/admin/v1/users/dana@contoso.com/password', { password: NEW }, await t.as('authentication_administrator'))).toMatchObject({ status: 204 });
    expect((await call('GET', '/self/v1/registration', undefined, basic(NEW))).status).toBe(200);
    expect(await call('PUT', '/admin/v1/users/dana@contoso.com/password', { password: NEW }, await t.as('reports_reader'))).toMatchObject({ status: 403 });
    expect((await call('GET', '/admin/v1/users/dana@contoso.com', undefined, await t.as('reports_reader'))).body).toMatchObject({ password_set: true, sspr_email: 'dana.private@mail.example' });
    expect(await call('DELETE', '/admin/v1/users/dana@contoso.com/methods/sspr_email', undefined, await t.as('authentication_administrator'))).toEqual({ status: 200, body: { method: 'sspr_email', removed: 1 } });
    expect((await call('GET', '/admin/v1/users/dana@contoso.com', undefined, await t.as('reports_reader'))).body).toMatchObject({ sspr_email: null });
  });
});

describe.each(DIALECTS)('self-service password reset with the authenticator app on %s', (dialect) => {
  let server: Awaited<ReturnType<typeof startAppServer>>;
  afterEach(() => server.close());

  it('proves the app with a push approved (number matching), waited for with wait_seconds', async () => {
    server = await startAppServer(dialect);
    await server.t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const device = await server.device();
    const post = async (path: string, body: object) => {
      const response = await fetch(`${server.url}/self/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> & { pending?: { number?: string } } };
    };
    const started = await post('/password-reset', { username: 'bob@contoso.com' });
    expect(started.body).toMatchObject({ methods_available: ['app'] });
    const id = String(started.body.session_id);
    const pushed = await post(`/password-reset/${id}/verify`, { method: 'app' });
    expect(pushed.body.pending).toMatchObject({ method: 'app', prompt: 'Approve the request in your authenticator app', number: expect.stringMatching(/^\d{2}$/) });
    expect((await post(`/password-reset/${id}/verify`, { method: 'app' })).body).toMatchObject({ status: 'open', pending: { method: 'app' } });
    const [seen] = await device.pushes();
    expect(seen).toMatchObject({ application: 'Self-service password reset' });
    await device.answer(seen!.txid, { decision: 'approve', number: pushed.body.pending!.number });
    expect((await post(`/password-reset/${id}/verify`, { method: 'app', wait_seconds: 2 })).body).toMatchObject({ status: 'verified', methods_passed: ['app'] });
  });
});
