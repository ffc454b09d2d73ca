import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base32Decode } from '../src/modules/methods/oath/base32.js';
import { hotp, totp } from '../src/modules/methods/oath/otp.js';
import { createTestApp } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
interface Token {
  id: string;
  serial: string | null;
  status: string;
  user: string | null;
}

const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe.each(DIALECTS)('OATH token API on %s', (dialect) => {
  let t: TestApp;
  let admin: Record<string, string>;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    admin = await t.as('global_administrator');
    await t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: admin, payload: { username: 'erin@contoso.com' } });
  });
  afterEach(() => t.dispose());

  const call = async <T = Record<string, unknown>>(method: string, url: string, payload?: unknown, headers = admin) => {
    const response = await t.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: response.statusCode, body: (response.body ? response.json() : null) as T, headers: response.headers, raw: response.body };
  };
  const importCsv = (csv: string, headers = admin) =>
    t.app.inject({ method: 'POST', url: '/admin/v1/oath-tokens/import', headers: { ...headers, 'content-type': 'text/csv' }, payload: csv });

  it('enrols, activates, lists and deletes a software token', async () => {
    const enrolled = await call<{ token: Token; secret: string; uri: string; qr_png_base64: string }>('POST', '/admin/v1/users/erin@contoso.com/oath-tokens', { name: 'Phone' });
    expect(enrolled.status).toBe(201);
    expect(enrolled.headers['cache-control']).toBe('no-store');
    const { token, secret, uri, qr_png_base64 } = enrolled.body;
    expect(uri).toBe(`otpauth://totp/Countersign:erin%40contoso.com?secret=${secret}&issuer=Countersign&algorithm=SHA1&digits=6&period=30`);
    expect(Buffer.from(qr_png_base64, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(token).toMatchObject({ status: 'pending', user: 'erin@contoso.com', kind: 'software', name: 'Phone' });
    const params = { secret: base32Decode(secret)!, algorithm: 'SHA1' as const, digits: 6 as const };
    const wrong = await call('POST', `/admin/v1/users/erin@contoso.com/oath-tokens/${token.id}/activate`, { code: totp(params, t.clock.now() - 300_000, 30) });
    expect(wrong).toMatchObject({ status: 400, body: { code: 'invalid_oath_code', field: 'code' } });
    const activated = await call<Token>('POST', `/admin/v1/users/erin@contoso.com/oath-tokens/${token.id}/activate`, { code: totp(params, t.clock.now(), 30) });
    expect(activated).toMatchObject({ status: 200, body: { status: 'active' } });
    const listed = await call<{ items: Token[] }>('GET', '/admin/v1/users/ERIN@contoso.com/oath-tokens');
    expect(listed.body.items.map((item) => [item.id, item.status])).toEqual([[token.id, 'active']]);
    expect(listed.raw).not.toContain(secret);
    expect((await call('DELETE', `/admin/v1/users/erin@contoso.com/oath-tokens/${token.id}`)).status).toBe(204);
    expect((await call('DELETE', `/admin/v1/users/erin@contoso.com/oath-tokens/${token.id}`)).body).toMatchObject({ code: 'oath_token_not_found' });
    const audit = await call<{ items: { action: string; details: unknown }[] }>('GET', '/admin/v1/audit?action=oath_token.enroll');
    expect(audit.body.items).toHaveLength(1);
    expect(JSON.stringify(audit.body)).not.toContain(secret);
  });

  it('resynchronises an HOTP token', async () => {
    const { body } = await call<{ token: Token; secret: string }>('POST', '/admin/v1/users/erin@contoso.com/oath-tokens', { type: 'hotp', digits: 8 });
    const params = { secret: base32Decode(body.secret)!, algorithm: 'SHA1' as const, digits: 8 as const };
    const base = `/admin/v1/users/erin@contoso.com/oath-tokens/${body.token.id}`;
    expect((await call('POST', `${base}/resync`, { code1: hotp(params, 40), code2: hotp(params, 41) })).body).toMatchObject({ code: 'conflict' });
    expect((await call('POST', `${base}/activate`, { code: hotp(params, 0) })).status).toBe(200);
    expect((await call('POST', `${base}/resync`, { code1: hotp(params, 41), code2: hotp(params, 40) })).body).toMatchObject({ code: 'invalid_oath_code' });
    expect((await call('POST', `${base}/resync`, { code1: hotp(params, 40), code2: hotp(params, 41) })).status).toBe(200);
  });

  it('imports, lists, assigns and unassigns hardware tokens', async () => {
    const response = await importCsv(`serial,secret,type\nHW-1,${SEED},totp\nHW-2,${SEED},hotp\nHW-1,${SEED},totp\nHW-3,xyz!,totp\n`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      rows: 4,
      imported: 2,
      failed: 2,
      errors: [
        { line: 4, serial: 'HW-1', field: 'serial', code: 'oath_serial_taken' },
        { line: 5, serial: 'HW-3', field: 'secret', code: 'invalid_oath_secret' },
      ],
    });
    const unassigned = await call<{ items: Token[]; next_cursor: string | null }>('GET', '/admin/v1/oath-tokens?unassigned=true&limit=1');
    expect(unassigned.body.items.map((item) => item.serial)).toEqual(['HW-1']);
    expect((await call<{ items: Token[] }>('GET', `/admin/v1/oath-tokens?unassigned=true&cursor=${unassigned.body.next_cursor}`)).body.items.map((item) => item.serial)).toEqual(['HW-2']);
    const assigned = await call<Token>('POST', '/admin/v1/oath-tokens/HW-2/assign', { username: 'erin@contoso.com' });
    expect(assigned).toMatchObject({ status: 200, body: { serial: 'HW-2', user: 'erin@contoso.com' } });
    expect((await call<{ items: Token[] }>('GET', '/admin/v1/oath-tokens?unassigned=true')).body.items.map((item) => item.serial)).toEqual(['HW-1']);
    expect((await call<{ items: Token[] }>('GET', '/admin/v1/oath-tokens')).body.items.map((item) => [item.serial, item.user])).toEqual([
      ['HW-1', null],
      ['HW-2', 'erin@contoso.com'],
    ]);
    expect((await call<{ items: Token[] }>('GET', '/admin/v1/users/erin@contoso.com/oath-tokens')).body.items.map((item) => item.serial)).toEqual(['HW-2']);
    expect((await call('POST', '/admin/v1/oath-tokens/HW-2/unassign')).body).toMatchObject({ user: null });
  });

  it('lets an Authentication Administrator enrol but not import or assign', async () => {
    const authAdmin = await t.as('authentication_administrator');
    expect((await call('POST', '/admin/v1/users/erin@contoso.com/oath-tokens', {}, authAdmin)).status).toBe(201);
    expect((await importCsv(`serial,secret,type\nHW-9,${SEED},totp\n`, authAdmin)).statusCode).toBe(403);
    expect((await call('POST', '/admin/v1/oath-tokens/HW-9/assign', { username: 'erin@contoso.com' }, authAdmin)).status).toBe(403);
    const reader = await t.as('reports_reader');
    expect((await call('GET', '/admin/v1/users/erin@contoso.com/oath-tokens', undefined, reader)).status).toBe(200);
    expect((await call('POST', '/admin/v1/users/erin@contoso.com/oath-tokens', {}, reader)).status).toBe(403);
  });

  it('answers bad input with a 4xx problem naming the field, never a 5xx', async () => {
    const cases: [string, string, unknown, number, string, RegExp?][] = [
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens', { digits: 7 }, 400, 'validation_failed', /body\.digits/],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens', { type: 'motp' }, 400, 'validation_failed', /body\.type/],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens', { period: 1 }, 400, 'validation_failed', /body\.period/],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens', { secret: SEED }, 400, 'validation_failed', /unknown field "secret"/],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens', { digits: '6' }, 400, 'validation_failed', /body\.digits/],
      ['POST', '/admin/v1/users/nobody/oath-tokens', {}, 404, 'user_not_found'],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens/0000000000000000/activate', { code: '123456' }, 404, 'oath_token_not_found'],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens/0000000000000000/activate', { code: '12 34' }, 400, 'validation_failed', /body\.code/],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens/0000000000000000/activate', {}, 400, 'validation_failed', /body\.code: required/],
      ['POST', '/admin/v1/users/erin@contoso.com/oath-tokens/0000000000000000/resync', { code1: '123456' }, 400, 'validation_failed', /body\.code2: required/],
      ['DELETE', '/admin/v1/users/nobody/oath-tokens/0000000000000000', undefined, 404, 'user_not_found'],
      ['GET', '/admin/v1/users/nobody/oath-tokens', undefined, 404, 'user_not_found'],
      ['GET', '/admin/v1/oath-tokens?limit=0', undefined, 400, 'validation_failed', /limit/],
      ['GET', '/admin/v1/oath-tokens?cursor=bogus', undefined, 400, 'invalid_cursor'],
      ['GET', '/admin/v1/oath-tokens?unassigned=maybe', undefined, 400, 'validation_failed', /unassigned/],
      ['POST', '/admin/v1/oath-tokens/NOSERIAL/assign', { username: 'erin@contoso.com' }, 404, 'oath_token_not_found'],
      ['POST', '/admin/v1/oath-tokens/bad%20serial/assign', { username: 'erin@contoso.com' }, 400, 'validation_failed', /serial/],
      ['POST', '/admin/v1/oath-tokens/NOSERIAL/assign', {}, 400, 'validation_failed', /body\.username: required/],
      ['POST', '/admin/v1/oath-tokens/NOSERIAL/unassign', undefined, 404, 'oath_token_not_found'],
      ['POST', '/admin/v1/oath-tokens/import', undefined, 400, 'invalid_csv'],
    ];
    for (const [method, url, payload, status, code, detail] of cases) {
      const response = await call<{ code: string; detail: string }>(method, url, payload);
      expect(response.status, `${method} ${url}`).toBe(status);
      expect(response.headers['content-type'], `${method} ${url}`).toContain('application/problem+json');
      expect(response.body.code, `${method} ${url}`).toBe(code);
      if (detail) expect(response.body.detail, `${method} ${url}`).toMatch(detail);
    }
    const json = await t.app.inject({ method: 'POST', url: '/admin/v1/oath-tokens/import', headers: admin, payload: { serial: 'x' } });
    expect(json.statusCode).toBe(415);
    expect((await importCsv('')).json()).toMatchObject({ code: 'invalid_csv' });
    expect((await importCsv('serial,secret\n')).json()).toMatchObject({ code: 'invalid_csv', detail: 'header: a type column is required' });
  });
});
