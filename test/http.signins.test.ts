import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { addToken, type TestToken } from './helpers/auth.js';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/**
 * Known sign-ins, one second apart:
 * 1 alice, VPN, 198.51.100.7, oath, success (SUCCESS_OATH_CODE_VERIFIED)
 * 2 alice, VPN, 198.51.100.200, oath, failure (FAILED_OATH_CODE_INCORRECT)
 * 3 ghost (no such user), VPN, 203.0.113.5, failure, user not found
 * 4 alice, Portal, 2001:db8::5, entry point cli, success
 * 5 bob (blocked), Portal, 198.51.100.9, failure (SUCCESS_USER_BLOCKED, policy user_blocked)
 */
describe.each(DIALECTS)('the sign-in log API on %s', (dialect) => {
  let t: TestApp;
  let token: TestToken;
  let ids: number[];
  let reader: Record<string, string>;

  beforeEach(async () => {
    t = await createTestApp(dialect);
    reader = await t.as('reports_reader');
    const vpn = (await t.runtime.applications.create({ name: 'VPN' }, testActor)).application;
    const portal = (await t.runtime.applications.create({ name: 'Portal' }, testActor)).application;
    const alice = await t.runtime.directory.create({ username: 'alice@contoso.com' }, testActor);
    await t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    token = await addToken(t.runtime, alice.id);
    await t.runtime.blocks.block('bob@contoso.com', 'lost phone', testActor);
    const request = (username: string, app: { id: string; name: string }, ip: string, extra: Partial<AuthInput> = {}): AuthInput => ({
      username,
      application: { id: app.id, name: app.name },
      ip,
      authType: 'vpn',
      entryPoint: 'http_api',
      factor: 'auto',
      ...extra,
    });
    const engine = t.runtime.engine;
    const step = () => t.clock.advance(31_000); // a new TOTP step each time, so no code is a replay
    step();
    await engine.auth(request('alice@contoso.com', vpn, '198.51.100.7', { passcode: token.code(t.clock.now()) }));
    step();
    await engine.auth(request('alice@contoso.com', vpn, '198.51.100.200', { passcode: token.code(t.clock.now()) === '000000' ? '111111' : '000000' }));
    step();
    await engine.auth(request('ghost@contoso.com', vpn, '203.0.113.5'));
    step();
    await engine.auth(request('alice@contoso.com', portal, '2001:db8::5', { passcode: token.code(t.clock.now()), entryPoint: 'cli' }));
    step();
    await engine.auth(request('bob@contoso.com', portal, '198.51.100.9'));
    const all = await t.runtime.storage.db.selectFrom('signins').select('id').orderBy('id').execute();
    ids = all.map((row) => Number(row.id));
    expect(ids).toHaveLength(5);
  });
  afterEach(() => t.dispose());

  const list = async (query: string, headers = reader) => {
    const response = await t.app.inject({ url: `/admin/v1/signins${query}`, headers });
    return { status: response.statusCode, body: response.json<{ items: { id: number }[]; next_cursor: string | null; code?: string }>() };
  };
  /** The sign-ins a query returns, by their place in the known list (1-5). */
  const found = async (query: string) => {
    const { status, body } = await list(query);
    expect(status, query).toBe(200);
    return body.items.map((item) => ids.indexOf(item.id) + 1);
  };

  it('filters by every field, newest first', async () => {
    const at = (n: number) => new Date(t.clock.now() - (5 - n) * 31_000).toISOString(); // the time of sign-in n
    expect(await found('')).toEqual([5, 4, 3, 2, 1]);
    expect(await found('?order=asc')).toEqual([1, 2, 3, 4, 5]);
    expect(await found(`?from=${at(3)}`)).toEqual([5, 4, 3]);
    expect(await found(`?to=${at(3)}`)).toEqual([2, 1]);
    expect(await found(`?from=${at(2)}&to=${at(4)}`)).toEqual([3, 2]);
    expect(await found('?user=ALICE@contoso.com')).toEqual([4, 2, 1]);
    expect(await found('?user=ghost@contoso.com')).toEqual([3]);
    expect(await found('?application=Portal')).toEqual([5, 4]);
    expect(await found('?status=success')).toEqual([4, 1]);
    expect(await found('?mfa_required=false')).toEqual([3]);
    expect(await found('?mfa_required=true&status=failure')).toEqual([5, 2]);
    expect(await found('?result_code=FAILED_OATH_CODE_INCORRECT')).toEqual([2]);
    expect(await found('?result_code=SUCCESS_USER_BLOCKED')).toEqual([5]);
    expect(await found('?method=oath')).toEqual([4, 2, 1]);
    expect(await found('?ip=198.51.100.0/24')).toEqual([5, 2, 1]);
    expect(await found('?ip=198.51.100.0/25')).toEqual([5, 1]);
    expect(await found('?ip=198.51.100.200')).toEqual([2]);
    expect(await found('?ip=2001:db8::/32')).toEqual([4]);
    expect(await found('?entry_point=cli')).toEqual([4]);
    expect(await found('?policy=user_blocked')).toEqual([5]);
    expect(await found('?application=VPN&status=failure&ip=203.0.113.0/24')).toEqual([3]);
  });

  it('refuses filters it cannot read, naming them', async () => {
    expect(await list('?ip=198.51.100.0/40')).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'ip' } });
    expect(await list('?result_code=SUCCESS_MAYBE')).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'result_code' } });
    expect(await list('?from=yesterday')).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'from' } });
    expect(await list('?status=great')).toMatchObject({ status: 400 });
    expect(await list('?cursor=bm9wZQ')).toMatchObject({ status: 400, body: { code: 'invalid_cursor' } });
    expect(await list('?colour=red')).toMatchObject({ status: 400 });
  });

  it('pages by time and id: new sign-ins arriving between pages neither repeat nor hide one', async () => {
    const first = await list('?limit=2');
    expect(first.body.items.map((item) => ids.indexOf(item.id) + 1)).toEqual([5, 4]);
    // Two more sign-ins arrive, one in the same millisecond as the newest.
    await t.runtime.engine.auth({ username: 'ghost@contoso.com', application: { id: 'x', name: 'VPN' }, ip: null, authType: 'vpn', entryPoint: 'http_api', factor: 'auto' });
    t.clock.advance(1000);
    await t.runtime.engine.auth({ username: 'ghost@contoso.com', application: { id: 'x', name: 'VPN' }, ip: null, authType: 'vpn', entryPoint: 'http_api', factor: 'auto' });
    const second = await list(`?limit=2&cursor=${first.body.next_cursor!}`);
    const third = await list(`?limit=2&cursor=${second.body.next_cursor!}`);
    expect([...second.body.items, ...third.body.items].map((item) => ids.indexOf(item.id) + 1)).toEqual([3, 2, 1]);
    expect(third.body.next_cursor).toBeNull();
    // Oldest first, the new ones come at the end.
    const asc = await list('?order=asc&limit=4');
    const rest = await list(`?order=asc&limit=4&cursor=${asc.body.next_cursor!}`);
    expect(asc.body.items.length + rest.body.items.length).toBe(7);
    expect(new Set([...asc.body.items, ...rest.body.items].map((item) => item.id)).size).toBe(7);
  });

  it('shows one sign-in whole: basic info, authentication details, conditional access and the attempt record', async () => {
    const response = await t.app.inject({ url: `/admin/v1/signins/${ids[1]}`, headers: reader });
    expect(response.statusCode).toBe(200);
    const detail = response.json<Record<string, unknown>>();
    expect(detail).toMatchObject({
      id: ids[1],
      username: 'alice@contoso.com',
      application: 'VPN',
      ip: '198.51.100.200',
      status: 'failure',
      mfa_required: true,
      method: 'oath',
      result_code: 'FAILED_OATH_CODE_INCORRECT',
      detail: 'user entered incorrect code',
      authentication_details: [{ method: 'oath', result_code: 'FAILED_OATH_CODE_INCORRECT', succeeded: false, detail: 'user entered incorrect code' }],
      attempt: { username: 'alice@contoso.com', result: 'FAILED_OATH_CODE_INCORRECT', authenticated: false, caller_ip: '198.51.100.200' },
    });
    expect((detail.conditional_access as { rule: string }[]).map((entry) => entry.rule)).toContain('user_blocked');
    // Each entry names its reason by code, with the details the code needs, beside its text.
    expect(detail.conditional_access).toContainEqual({ rule: 'user_blocked', outcome: 'continue', code: 'not_blocked', reason: expect.any(String) });
    expect(detail.conditional_access).toContainEqual({ rule: 'throttle', outcome: 'continue', code: 'under_failure_limits', details: { recent: expect.any(Number), today: expect.any(Number) }, reason: expect.any(String) });
    // A sign-in recorded before traces had codes reads as it did.
    const before = [{ rule: 'lockout', outcome: 'continue', reason: 'no open block' }];
    await t.runtime.storage.db.updateTable('signins').set({ trace: JSON.stringify(before) }).where('id', '=', ids[0]!).execute();
    expect((await t.app.inject({ url: `/admin/v1/signins/${ids[0]}`, headers: reader })).json()).toMatchObject({ conditional_access: before });
    expect((await t.app.inject({ url: '/admin/v1/signins/999999', headers: reader })).statusCode).toBe(404);
    // Read-only: there is nothing to change a sign-in with.
    const admin = await t.as('global_administrator');
    expect((await t.app.inject({ method: 'DELETE', url: `/admin/v1/signins/${ids[0]}`, headers: admin })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'PATCH', url: `/admin/v1/signins/${ids[0]}`, headers: admin, payload: {} })).statusCode).toBe(404);
  });

  it('downloads sign-ins as CSV (header row, quoting, optional BOM) and JSON Lines, with the same filters', async () => {
    const csv = await t.app.inject({ url: '/admin/v1/signins/export?format=csv&status=failure', headers: reader });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="signins-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows = csv.body.split('\r\n');
    expect(rows[0]).toBe('id,at,username,application,ip,auth_type,entry_point,status,mfa_required,policy,method,result_code,detail,push_fatigue,client_type,device_id');
    expect(rows.slice(1, -1).map((row) => row.split(',')[0])).toEqual([ids[1], ids[2], ids[4]].map(String));
    expect(rows[1]).toContain(',alice@contoso.com,VPN,198.51.100.200,vpn,http_api,failure,true,per-user MFA,oath,FAILED_OATH_CODE_INCORRECT,user entered incorrect code,,modern,');
    expect(rows.at(-1)).toBe('');
    const bom = await t.app.inject({ url: '/admin/v1/signins/export?bom=true&user=ghost@contoso.com', headers: reader });
    expect(bom.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const jsonl = await t.app.inject({ url: '/admin/v1/signins/export?format=jsonl&application=Portal', headers: reader });
    expect(jsonl.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const lines = jsonl.body.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ id: ids[3], ip: '2001:db8::5', entry_point: 'cli' }), expect.objectContaining({ id: ids[4], result_code: 'SUCCESS_USER_BLOCKED' })]);
    expect((await t.app.inject({ url: '/admin/v1/signins/export?ip=nope', headers: reader })).statusCode).toBe(400);
  });

  it('downloads the activity report: every attempt column with the result codes', async () => {
    const csv = await t.app.inject({ url: '/admin/v1/attempts/export?user=alice@contoso.com', headers: reader });
    expect(csv.statusCode).toBe(200);
    const [header, ...rows] = csv.body.trimEnd().split('\r\n');
    expect(header!.split(',')).toEqual(expect.arrayContaining(['at', 'username', 'method', 'oath_mode', 'primary_result', 'backup_result', 'authenticated', 'result', 'caller_ip', 'number_matching', 'entry_point']));
    expect(rows).toHaveLength(3);
    const jsonl = await t.app.inject({ url: '/admin/v1/attempts/export?format=jsonl&result=FAILED_OATH_CODE_INCORRECT', headers: reader });
    expect(jsonl.body.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ username: 'alice@contoso.com', method: 'oath', result: 'FAILED_OATH_CODE_INCORRECT', authenticated: false, caller_ip: '198.51.100.200', application: 'VPN' }),
    ]);
    expect((await t.app.inject({ url: '/admin/v1/attempts/export?result=NOPE', headers: reader })).json()).toMatchObject({ code: 'validation_failed', field: 'result' });
    expect((await t.app.inject({ url: '/admin/v1/attempts/export', headers: await t.as('reports_reader') })).statusCode).toBe(200);
  });

  it('streams a download of many batches whole and in order', async () => {
    // 2,500 sign-ins: three batches of the export.
    const db = t.runtime.storage.db;
    const base = t.clock.now() + 60_000;
    for (let start = 0; start < 2500; start += 500) {
      const rows = Array.from({ length: 500 }, (_, index) => ({
        at: base + Math.floor((start + index) / 3),
        user_id: null,
        username: `user${start + index}@contoso.com`,
        application_id: 'x',
        application: 'Bulk',
        ip: null,
        ip_key: null,
        auth_type: 'vpn',
        entry_point: 'http_api',
        status: 'failure',
        mfa_required: 0,
        policy: 'user_lookup',
        method: null,
        result_code: null,
        detail: 'user not found',
        attempt_id: null,
        counted_failure: 0,
        steps: '[]',
        trace: '[]',
        push_fatigue: null,
      }));
      await db.insertInto('signins').values(rows).execute();
    }
    const csv = await t.app.inject({ url: '/admin/v1/signins/export?application=Bulk', headers: reader });
    const names = csv.body.trimEnd().split('\r\n').slice(1).map((row) => row.split(',')[2]);
    expect(names).toHaveLength(2500);
    expect(names).toEqual(Array.from({ length: 2500 }, (_, index) => `user${index}@contoso.com`));
  });
});
