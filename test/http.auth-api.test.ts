import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addToken } from './helpers/auth.js';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe.each(DIALECTS)('Auth API over HTTP on %s', (dialect) => {
  let t: TestApp;
  let basic: Record<string, string>;
  let integrationKey: string;
  beforeEach(async () => {
    t = await createTestApp(dialect, {}, { longPollIntervalMs: 60_000 });
    const { application, secret } = await t.runtime.applications.create({ name: 'Corporate VPN' }, testActor);
    integrationKey = application.integration_key;
    basic = { authorization: `Basic ${Buffer.from(`${integrationKey}:${secret}`).toString('base64')}` };
  });
  afterEach(() => t.dispose());

  const post = async (url: string, payload: unknown, headers = basic) => {
    const response = await t.app.inject({ method: 'POST', url, headers, payload: payload as object });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>(), headers: response.headers };
  };
  const user = async (username = 'bob@contoso.com') => {
    const created = await t.runtime.directory.create({ username }, testActor);
    return addToken(t.runtime, created.id);
  };

  it('refuses calls without valid application credentials', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/auth/v1/check' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="countersign"');
    expect(none.json()).toMatchObject({ code: 'unauthenticated' });
    const wrong = await t.app.inject({ method: 'GET', url: '/auth/v1/check', headers: { authorization: `Basic ${Buffer.from(`${integrationKey}:nope`).toString('base64')}` } });
    expect(wrong.statusCode).toBe(401);
    const admin = await t.app.inject({ method: 'GET', url: '/auth/v1/check', headers: await t.as('global_administrator') });
    expect(admin.statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/auth/v1/check', headers: basic })).json()).toEqual({ application: 'Corporate VPN' });
  });

  it('stops accepting a disabled application and a rotated secret at once', async () => {
    await t.runtime.applications.update('corporate vpn', { enabled: false }, testActor);
    expect((await t.app.inject({ method: 'GET', url: '/auth/v1/check', headers: basic })).statusCode).toBe(401);
    const { secret } = await t.runtime.applications.update('corporate vpn', { enabled: true, rotateSecret: true }, testActor);
    expect((await t.app.inject({ method: 'GET', url: '/auth/v1/check', headers: basic })).statusCode).toBe(401);
    const fresh = { authorization: `Basic ${Buffer.from(`${integrationKey}:${secret}`).toString('base64')}` };
    expect((await t.app.inject({ method: 'GET', url: '/auth/v1/check', headers: fresh })).statusCode).toBe(200);
  });

  it('runs preauth, then auth with a passcode, recording application, IP, auth type and entry point', async () => {
    const token = await user();
    expect((await post('/auth/v1/preauth', { username: 'bob@contoso.com' })).body).toMatchObject({ result: 'auth', methods: [{ method: 'oath' }] });
    const answer = await post('/auth/v1/auth', { username: 'bob@contoso.com', passcode: token.code(t.clock.now()), ip: '192.0.2.10', auth_type: 'vpn', entry_point: 'radius' });
    expect(answer.body).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED', detail: 'successfully completed', txid: null });
    const signin = await t.runtime.storage.db.selectFrom('signins').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(signin).toMatchObject({ application: 'Corporate VPN', ip: '192.0.2.10', auth_type: 'vpn', entry_point: 'radius' });
  });

  it("takes the caller's address when the application sends no IP, so guesses without one meet the per-IP limit", async () => {
    for (let i = 0; i < 36; i += 1) await t.runtime.directory.create({ username: `guess${i}@contoso.com` }, testActor);
    const users = await t.runtime.storage.db.selectFrom('users').select('id').execute();
    for (const row of users) await addToken(t.runtime, row.id);
    const codes: string[] = [];
    // Three wrong codes a user (under the per-user limit of five), 108 in all, none with an "ip".
    for (let round = 0; round < 3; round += 1) {
      for (let i = 0; i < 36; i += 1) codes.push(String((await post('/auth/v1/auth', { username: `guess${i}@contoso.com`, passcode: '000000' })).body.result_code));
    }
    expect(codes.filter((code) => code === 'FAILED_OATH_CODE_INCORRECT').length).toBe(t.runtime.config.auth.ipFailureLimit);
    expect(codes.filter((code) => code === 'FAILED_AUTHENTICATION_THROTTLED')).toHaveLength(108 - t.runtime.config.auth.ipFailureLimit);
    const signin = await t.runtime.storage.db.selectFrom('signins').select('ip').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(signin.ip).toBe('127.0.0.1');
  });

  it('opens a challenge, answers auth_status, and completes through respond', async () => {
    const token = await user();
    const waiting = await post('/auth/v1/auth', { username: 'bob@contoso.com', factor: 'oath' });
    expect(waiting.body).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_OATH_CODE_PENDING', prompt: expect.any(String), expires_at: expect.any(String) });
    const txid = waiting.body.txid as string;
    const status = await t.app.inject({ method: 'GET', url: `/auth/v1/auth_status?txid=${txid}`, headers: basic });
    expect(status.json()).toMatchObject({ result: 'waiting', txid });
    // The server's long polls look again only once a minute here: only the wake-up of the respond can end this one in time.
    const polling = t.app.inject({ method: 'GET', url: `/auth/v1/auth_status?txid=${txid}&timeout=25`, headers: basic });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const done = await post('/auth/v1/respond', { txid, passcode: token.code(t.clock.now()) });
    expect(done.body).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED', txid });
    const answered = Date.now();
    const woken = await polling;
    expect(woken.json()).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED' });
    expect(Date.now() - answered).toBeLessThan(5_000);
  });

  it('validates its input with 4xx problems', async () => {
    await user();
    const cases: [string, unknown, number, RegExp][] = [
      ['/auth/v1/auth', { username: 'bob@contoso.com', ip: 'not-an-ip' }, 400, /ip/],
      ['/auth/v1/auth', { username: 'bob@contoso.com', factor: 'carrier-pigeon' }, 400, /factor/],
      ['/auth/v1/auth', { username: 'bob@contoso.com', factor: 'questions' }, 400, /fallback only/],
      ['/auth/v1/auth', { username: 'bob@contoso.com', entry_point: 'Bad Entry' }, 400, /entry_point/],
      ['/auth/v1/auth', { username: 'bob@contoso.com', colour: 'red' }, 400, /unknown field/],
      ['/auth/v1/respond', { txid: 'nope', passcode: '123456' }, 400, /txid/],
      ['/auth/v1/respond', { txid: '00000000-0000-4000-8000-000000000000', passcode: '123456' }, 404, /does not exist/],
      ['/auth/v1/respond', { txid: '00000000-0000-4000-8000-000000000000' }, 400, /body/],
      ['/auth/v1/preauth', { ip: '192.0.2.1' }, 400, /username/],
    ];
    for (const [url, payload, status, detail] of cases) {
      const response = await post(url, payload);
      expect(response.status, JSON.stringify(payload)).toBe(status);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(String(response.body.detail)).toMatch(detail);
    }
    const badStatus = await t.app.inject({ method: 'GET', url: '/auth/v1/auth_status?txid=00000000-0000-4000-8000-000000000000&timeout=500', headers: basic });
    expect(badStatus.statusCode).toBe(400);
  });

  it('blocks, unblocks and bypasses through the admin API, with history', async () => {
    const token = await user();
    const admin = await t.as('authentication_administrator');
    expect((await post('/admin/v1/users/bob@contoso.com/block', { reason: 'lost laptop' }, admin)).body).toMatchObject({ blocked: true, block_reason: 'lost laptop' });
    expect((await post('/auth/v1/auth', { username: 'bob@contoso.com', passcode: token.code(t.clock.now()) })).body).toMatchObject({ result: 'deny', result_code: 'SUCCESS_USER_BLOCKED' });
    expect((await post('/admin/v1/users/bob@contoso.com/unblock', { reason: 'found it' }, admin)).body).toMatchObject({ blocked: false, completion_reason: 'found it' });
    expect((await post('/admin/v1/users/bob@contoso.com/unblock', { reason: 'again' }, admin)).status).toBe(409);
    expect((await post('/admin/v1/users/bob@contoso.com/bypass', { seconds: 600, reason: 'helpdesk ticket 42' }, admin)).status).toBe(201);
    expect((await post('/auth/v1/auth', { username: 'bob@contoso.com' })).body).toMatchObject({ result: 'allow', result_code: 'SUCCESS_BYPASSED_AUTH' });
    expect((await post('/admin/v1/users/bob@contoso.com/bypass', { seconds: 0, reason: 'x' }, admin)).status).toBe(400);
    const reader = await t.as('reports_reader');
    const blocks = await t.app.inject({ method: 'GET', url: '/admin/v1/blocks?username=bob@contoso.com', headers: reader });
    expect(blocks.json<{ items: unknown[] }>().items).toHaveLength(1);
    const bypasses = await t.app.inject({ method: 'GET', url: '/admin/v1/bypasses', headers: reader });
    expect(bypasses.json<{ items: { bypass_used: boolean }[] }>().items[0]).toMatchObject({ bypass_used: true, completion_reason: 'used' });
  });

  it('registers applications through the admin API and shows the secret once', async () => {
    const admin = await t.as('global_administrator');
    const created = await post('/admin/v1/applications', { name: 'Web portal' }, admin);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ application: { name: 'Web portal', enabled: true, integration_key: expect.stringMatching(/^CI[0-9A-Z]{18}$/) }, secret: expect.any(String) });
    expect((await post('/admin/v1/applications', { name: 'web PORTAL' }, admin)).status).toBe(409);
    const listed = await t.app.inject({ method: 'GET', url: '/admin/v1/applications', headers: admin });
    expect(listed.body).not.toContain(String(created.body.secret));
    const patched = await t.app.inject({ method: 'PATCH', url: '/admin/v1/applications/web%20portal', headers: admin, payload: { rotate_secret: true } });
    expect(patched.json()).toMatchObject({ secret: expect.any(String) });
    expect((await t.app.inject({ method: 'DELETE', url: '/admin/v1/applications/web%20portal', headers: admin })).statusCode).toBe(204);
  });
});
