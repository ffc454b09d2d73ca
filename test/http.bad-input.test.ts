import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
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

  it('a control character anywhere: in a body, a path, a query, also without credentials (400, never a database error)', async () => {
    const { secret, application } = await t.runtime.applications.create({ name: 'NUL app' }, { type: 'cli', id: 't', role: null, requestId: null, entryPoint: 'cli' });
    const basic = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}` };
    const nul = 'carol\u0000@contoso.com';
    const cases: [Parameters<typeof send>[0], string, unknown, Record<string, string>, string][] = [
      ['POST', '/self/v1/password-reset', { username: nul }, { authorization: '' }, 'body.username'],
      ['POST', '/auth/v1/auth', { username: nul }, basic, 'body.username'],
      ['POST', '/auth/v1/preauth', { username: 'carol@contoso.com', device_id: 'dev\u0000ice' }, basic, 'body.device_id'],
      ['GET', `/admin/v1/users/${encodeURIComponent(nul)}`, undefined, {}, 'params.username'],
      ['DELETE', `/admin/v1/users/${encodeURIComponent(nul)}`, undefined, {}, 'params.username'],
      ['GET', `/admin/v1/users?group=${encodeURIComponent('g\u0000')}`, undefined, {}, 'query.group'],
      ['POST', '/admin/v1/users/taken@contoso.com/block', { reason: 'bad\u0000reason' }, {}, 'body.reason'],
      ['GET', `/admin/v1/signins?user=${encodeURIComponent(nul)}`, undefined, {}, 'query.user'],
    ];
    for (const [method, url, payload, headers, field] of cases) {
      const response = await send(method, url, payload, headers);
      expectProblem(response, 400, 'validation_failed', /must not contain control characters/);
      expect(response.json<{ field: string }>().field, `${method} ${url}`).toBe(field);
    }
    // A CSV file is a raw body: its rows are checked by the import, which names the row and field.
    const csv = await send('POST', '/admin/v1/users/import', 'username,first_name\nnul@contoso.com,Ca\u0000rol\nok@contoso.com,Ok\n', { 'content-type': 'text/csv' });
    expect(csv.statusCode).toBe(200);
    expect(csv.json()).toMatchObject({ created: 1, failed: 1, errors: [{ line: 2, field: 'first_name' }] });
    // A line break in a reason is text, not a control character to refuse.
    expect((await send('POST', '/admin/v1/users/taken@contoso.com/block', { reason: 'line one\nline two' })).statusCode).toBe(200);
  });

  it('a path part too long (414), a path that is not UTF-8 (400), headers too large (431): problem documents too', async () => {
    expectProblem(await send('GET', `/admin/v1/users/${'a'.repeat(3100)}`), 414, 'uri_too_long');
    expectProblem(await send('GET', '/admin/v1/users/%ff%fe'), 400, 'malformed_request');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(port, '127.0.0.1', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    expect(raw).toContain('content-type: application/problem+json'.replace('content-type', 'Content-Type'));
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431, code: 'headers_too_large' });
  });

  it('reaches a user whose name has the longest length allowed (256 characters), on every route', async () => {
    for (const username of [`${'a'.repeat(244)}@contoso.com`, `${'é'.repeat(244)}@contoso.com`]) {
      expect(username).toHaveLength(256);
      expect((await send('POST', '/admin/v1/users', { username })).statusCode).toBe(201);
      const path = `/admin/v1/users/${encodeURIComponent(username)}`;
      expect((await send('GET', path)).statusCode).toBe(200);
      expect((await send('POST', `${path}/block`, { reason: 'test' })).statusCode).toBe(200);
      expect((await send('GET', `/admin/v1/privacy/users/${encodeURIComponent(username)}/export`)).statusCode).toBe(200);
      expect((await send('DELETE', `/admin/v1/privacy/users/${encodeURIComponent(username)}`)).statusCode).toBe(200);
      expect((await send('GET', path)).statusCode).toBe(404);
    }
    expectProblem(await send('POST', '/admin/v1/users', { username: `${'a'.repeat(245)}@contoso.com` }), 400, 'validation_failed');
  });

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
