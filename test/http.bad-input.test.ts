import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe.each(DIALECTS)('bad input gets a 4xx problem, never a 5xx, on %s', (dialect) => {
  let t: TestApp;
  let auth: Record<string, string>;
  beforeAll(async () => {
    t = await createTestApp(dialect, { http: { bodyLimit: 4096 } });
    auth = await t.as('global_administrator');
    await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: { username: 'taken@contoso.com' } });
  });
  afterAll(() => t.dispose());

  const send = (method: 'POST' | 'PATCH' | 'GET' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method, url, headers: { ...auth, ...headers }, ...(payload === undefined ? {} : typeof payload === 'string' ? { payload } : { payload: payload as object }) });

  const expectProblem = (response: Awaited<ReturnType<typeof send>>, status: number, code: string, detail?: RegExp) => {
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const body = response.json<{ code: string; detail: string; status: number; request_id: string; type: string }>();
    expect(body.code).toBe(code);
    expect(body.status).toBe(status);
    expect(body.type).toBe(`urn:countersign:problem:${code}`);
    expect(body.request_id).toBe(response.headers['x-request-id']);
    if (detail) expect(body.detail).toMatch(detail);
    expect(response.body).not.toMatch(/at .*\.(ts|js):\d+/);
  };

  it('malformed JSON', async () => {
    expectProblem(await send('POST', '/admin/v1/users', '{"username": "x",', { 'content-type': 'application/json' }), 400, 'malformed_request');
  });

  it('an unknown field, at the top and nested', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', nickname: 'y' }), 400, 'validation_failed', /unknown field "nickname"/);
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', phone: { number: '2025550123', ext: '1' } }), 400, 'validation_failed', /body\.phone: unknown field "ext"/);
  });

  it('wrong types are not coerced', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', account_enabled: 'true' }), 400, 'validation_failed', /account_enabled/);
    expectProblem(await send('POST', '/admin/v1/users', { username: 42 }), 400, 'validation_failed', /username/);
    expectProblem(await send('POST', '/admin/v1/users', [1, 2]), 400, 'validation_failed');
  });

  it('a missing required field', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { first_name: 'x' }), 400, 'validation_failed', /body\.username: required/);
  });

  it('a bad phone number', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', phone: { number: '555-12' } }), 400, 'invalid_phone_number', /phone\.number/);
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', phone: { number: '20255501234' } }), 400, 'invalid_phone_number', /10 digits/);
  });

  it('a bad extension', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', backup_phone: { number: '2025550123', extension: 'x12' } }), 400, 'invalid_extension');
  });

  it('a bad PIN, e-mail, language or MFA state', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', pin: '12' }), 400, 'validation_failed', /PIN/);
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', email: 'not-an-address' }), 400, 'validation_failed', /email/);
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', language: 'English' }), 400, 'validation_failed', /language/);
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', mfa_state: 'On' }), 400, 'validation_failed', /mfa_state/);
    expectProblem(await send('POST', '/admin/v1/users', { username: 'has space' }), 400, 'validation_failed', /username/);
  });

  it('an unknown user', async () => {
    expectProblem(await send('GET', '/admin/v1/users/nobody@contoso.com'), 404, 'user_not_found');
    expectProblem(await send('PATCH', '/admin/v1/users/nobody@contoso.com', { first_name: 'x' }), 404, 'user_not_found');
    expectProblem(await send('DELETE', '/admin/v1/users/nobody@contoso.com'), 404, 'user_not_found');
  });

  it('a duplicate username', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { username: 'TAKEN@contoso.com' }), 409, 'username_taken');
  });

  it('an empty update', async () => {
    expectProblem(await send('PATCH', '/admin/v1/users/taken@contoso.com', {}), 400, 'validation_failed');
  });

  it('a body over the limit', async () => {
    expectProblem(await send('POST', '/admin/v1/users', { username: 'x', first_name: 'y'.repeat(8000) }), 413, 'payload_too_large');
  });

  it('an unsupported content type', async () => {
    expectProblem(await send('POST', '/admin/v1/users', 'username=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
  });

  it('bad query parameters', async () => {
    expectProblem(await send('GET', '/admin/v1/users?limit=0'), 400, 'validation_failed', /limit/);
    expectProblem(await send('GET', '/admin/v1/users?limit=abc'), 400, 'validation_failed', /limit/);
    expectProblem(await send('GET', '/admin/v1/users?colour=blue'), 400, 'validation_failed', /unknown field "colour"/);
    expectProblem(await send('GET', '/admin/v1/users?cursor=%25%25'), 400, 'invalid_cursor');
  });

  it('an unknown route', async () => {
    expectProblem(await send('GET', '/admin/v1/nothing-here'), 404, 'route_not_found');
  });

  it('a bad CSV import', async () => {
    expectProblem(await send('POST', '/admin/v1/users/import', 'name\nx', { 'content-type': 'text/csv' }), 400, 'invalid_csv', /unknown column/);
    expectProblem(await send('POST', '/admin/v1/users/import', { username: 'x' }), 415, 'unsupported_media_type', /text\/csv/);
    expectProblem(await send('POST', '/admin/v1/users/import'), 415, 'unsupported_media_type');
  });

  it('keeps a caller request id that is a plain token and replaces others', async () => {
    const kept = await send('GET', '/admin/v1/users/nobody', undefined, { 'x-request-id': 'abc-123' });
    expect(kept.headers['x-request-id']).toBe('abc-123');
    const replaced = await send('GET', '/admin/v1/users/nobody', undefined, { 'x-request-id': 'bad id\twith spaces' });
    expect(replaced.headers['x-request-id']).not.toBe('bad id\twith spaces');
  });
});
