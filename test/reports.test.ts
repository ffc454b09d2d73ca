import { afterEach, describe, expect, it } from 'vitest';
import { Heartbeat } from '../src/modules/reports/heartbeat.js';
import { VERSION } from '../src/shared/version.js';
import { addToken } from './helpers/auth.js';
import { createTestApp, testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';
import { readFileSync } from 'node:fs';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const DAY = 86_400_000;

describe.each(DIALECTS)('reports on %s', (dialect) => {
  let t: TestApp;
  afterEach(() => t.dispose());

  /** ann: phone; ben: OATH token; cy: nothing; dee: phone but disabled; eve: Enforced, nothing. */
  async function users() {
    const directory = t.runtime.directory;
    await directory.create({ username: 'ann@contoso.com', phone: { number: '202 555 0101' } }, testActor);
    const ben = await directory.create({ username: 'ben@contoso.com' }, testActor);
    const token = await addToken(t.runtime, ben.id);
    await directory.create({ username: 'cy@contoso.com' }, testActor);
    await directory.create({ username: 'dee@contoso.com', phone: { number: '202 555 0104' }, account_enabled: false }, testActor);
    await directory.create({ username: 'eve@contoso.com', mfa_state: 'Enforced' }, testActor);
    return token;
  }

  it('lists registered and not registered users (disabled accounts left out) and exports every user\'s MFA status and methods', async () => {
    t = await createTestApp(dialect);
    await users();
    expect(await t.runtime.reports.registration(true)).toEqual({
      count: 2,
      items: [
        { username: 'ann@contoso.com', mfa_state: 'Enabled', methods: ['sms', 'voice'] },
        { username: 'ben@contoso.com', mfa_state: 'Enabled', methods: ['oath'] },
      ],
      next_cursor: null,
    });
    const unregistered = await t.runtime.reports.registration(false, { limit: 1 });
    expect(unregistered).toMatchObject({ count: 2, items: [{ username: 'cy@contoso.com', methods: [] }] });
    expect(await t.runtime.reports.registration(false, { cursor: unregistered.next_cursor!, limit: 1 })).toMatchObject({ items: [{ username: 'eve@contoso.com', mfa_state: 'Enforced' }], next_cursor: null });

    const reader = await t.as('reports_reader');
    const csv = await t.app.inject({ url: '/admin/v1/reports/mfa-status?bom=true', headers: reader });
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.body).toBe(
      [
        '\uFEFFUserPrincipalName,MFA Status,MFA Methods',
        'ann@contoso.com,Enabled,"sms, voice"',
        'ben@contoso.com,Enabled,oath',
        'cy@contoso.com,Enabled,',
        'dee@contoso.com,Enabled,"sms, voice"',
        'eve@contoso.com,Enforced,',
        '',
      ].join('\r\n'),
    );
    expect((await t.app.inject({ url: '/admin/v1/reports/registered-users', headers: reader })).json()).toMatchObject({ count: 2 });
  });

  it('gives MFA insights and usage by entry point for a period, with exact numbers', async () => {
    t = await createTestApp(dialect);
    const token = await users();
    const { application } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
    const app = { id: application.id, name: application.name };
    const start = t.clock.now();
    const auth = (username: string, passcode: string | undefined, entryPoint = 'http_api') =>
      t.runtime.engine.auth({ username, application: app, ip: '198.51.100.7', authType: 'vpn', entryPoint, factor: 'auto', ...(passcode ? { passcode } : {}) });
    const wrong = () => (token.code(t.clock.now()) === '000000' ? '111111' : '000000');
    // Day 1: ben succeeds once (OATH) and fails three times; a user nobody has tries once (no MFA).
    t.clock.advance(31_000);
    await auth('ben@contoso.com', token.code(t.clock.now()));
    for (let failure = 0; failure < 3; failure += 1) {
      t.clock.advance(31_000);
      await auth('ben@contoso.com', wrong());
    }
    await auth('ghost@contoso.com', undefined);
    // Day 2: ben succeeds through the CLI; eve (Enforced, no method) is denied.
    t.clock.set(start + DAY + 60_000);
    await auth('ben@contoso.com', token.code(t.clock.now()), 'cli');
    await auth('eve@contoso.com', undefined);

    const from = new Date(start).toISOString();
    const to = new Date(start + 2 * DAY).toISOString();
    const insights = await t.runtime.reports.insights(from, to);
    expect(insights).toEqual({
      from,
      to,
      signins: 7,
      mfa_required: 6,
      mfa_completed: 2,
      mfa_failed: 4,
      by_method: [{ method: 'oath', signins: 5, succeeded: 2, failed: 3 }],
      top_denied_details: [
        { detail: 'user entered incorrect code', signins: 3 },
        { detail: 'user does not have any verification methods registered', signins: 1 },
        { detail: 'user not found', signins: 1 },
      ],
      users_with_repeated_failures: [{ username: 'ben@contoso.com', failures: 3 }],
      daily: [
        { day: from.slice(0, 10), signins: 5, mfa_required: 4, succeeded: 1, failed: 4 },
        { day: new Date(start + DAY).toISOString().slice(0, 10), signins: 2, mfa_required: 2, succeeded: 1, failed: 1 },
      ],
    });
    expect(await t.runtime.reports.usageByEntryPoint(from, to)).toEqual({
      from,
      to,
      entry_points: [
        { entry_point: 'cli', signins: 1, succeeded: 1, failed: 0 },
        { entry_point: 'http_api', signins: 6, succeeded: 1, failed: 5 },
      ],
    });
    // Only the first day.
    expect(await t.runtime.reports.insights(from, new Date(start + DAY).toISOString())).toMatchObject({ signins: 5, mfa_completed: 1 });

    // Days later the whole past days come from their roll-ups, the partial days at the ends from the log: the same numbers.
    t.clock.set(start + 4 * DAY);
    const rolledDays = () => t.runtime.storage.db.selectFrom('signin_rollup_days').select('day').orderBy('day').execute();
    expect(await rolledDays()).toEqual([]);
    expect(await t.runtime.reports.insights(from, to)).toEqual(insights);
    const firstDay = Math.floor(start / DAY);
    expect((await rolledDays()).map((row) => Number(row.day))).toEqual([firstDay + 1]);
    const midnight = new Date(firstDay * DAY).toISOString();
    expect(await t.runtime.reports.insights(midnight, new Date((firstDay + 3) * DAY).toISOString())).toEqual({ ...insights, from: midnight, to: new Date((firstDay + 3) * DAY).toISOString() });
    expect((await rolledDays()).map((row) => Number(row.day))).toEqual([firstDay, firstDay + 1, firstDay + 2]);
    expect(await t.runtime.storage.db.selectFrom('signin_rollup_failures').selectAll().execute()).toEqual([{ day: firstDay, username: 'ben@contoso.com', failures: 3 }]);
    expect(await t.runtime.reports.usageByEntryPoint(from, to)).toMatchObject({ entry_points: [{ entry_point: 'cli', signins: 1 }, { entry_point: 'http_api', signins: 6 }] });
    // The background roll-up makes the rest, up to the last settled day, once.
    expect(await t.runtime.reports.rollUp()).toBe(1);
    expect(await t.runtime.reports.rollUp()).toBe(0);
    const reader = await t.as('reports_reader');
    expect((await t.app.inject({ url: `/admin/v1/reports/insights?from=${from}&to=${to}`, headers: reader })).json()).toMatchObject({ signins: 7 });
    expect((await t.app.inject({ url: `/admin/v1/reports/entry-points?from=${to}&to=${from}`, headers: reader })).json()).toMatchObject({ code: 'validation_failed', field: 'from' });
    expect((await t.app.inject({ url: '/admin/v1/reports/insights?from=last-week', headers: reader })).statusCode).toBe(400);
  });

  it('shows every server node: up while it beats, down after three of its own missed heartbeats, stopped after a clean stop', async () => {
    t = await createTestApp(dialect, { cluster: { heartbeatSeconds: 10 } });
    const node = (host: string, seconds: number) => new Heartbeat({ db: t.runtime.storage.db, clock: t.clock, log: t.runtime.log, version: VERSION, host, seconds, retentionHours: 24 });
    const first = node('mfa-1', 10);
    const stopFirst = await first.start();
    t.clock.advance(1000);
    const second = node('mfa-2', 10);
    const stopSecond = await second.start();
    // A node configured to beat every 60 s is judged by its own interval, not this node's 10 s.
    t.clock.advance(1000);
    const slow = node('mfa-3', 60);
    const stopSlow = await slow.start();
    expect((await t.runtime.reports.serverStatus()).map((row) => [row.host, row.status, row.heartbeat_seconds])).toEqual([
      ['mfa-3', 'up', 60],
      ['mfa-2', 'up', 10],
      ['mfa-1', 'up', 10],
    ]);
    t.clock.advance(25_000);
    await second.beat();
    t.clock.advance(10_000);
    expect((await t.runtime.reports.serverStatus()).map((row) => [row.host, row.status, row.version, row.database_reachable])).toEqual([
      ['mfa-3', 'up', VERSION, true],
      ['mfa-2', 'up', VERSION, true],
      ['mfa-1', 'down', VERSION, true],
    ]);
    t.clock.advance(150_000);
    expect((await t.runtime.reports.serverStatus()).find((row) => row.host === 'mfa-3')?.status).toBe('down');
    await stopSecond();
    await stopFirst();
    await stopSlow();
    expect((await t.runtime.reports.serverStatus()).map((row) => row.status)).toEqual(['stopped', 'stopped', 'stopped']);
    const listed = await t.app.inject({ url: '/admin/v1/reports/server-status', headers: await t.as('reports_reader') });
    expect(listed.json()).toHaveLength(3);
  });

  it('forgets nodes silent for longer than cluster.nodeRetentionHours', async () => {
    t = await createTestApp(dialect, { cluster: { nodeRetentionHours: 24 } });
    const node = (host: string) => new Heartbeat({ db: t.runtime.storage.db, clock: t.clock, log: t.runtime.log, version: VERSION, host, seconds: 30, retentionHours: 24 });
    await (await node('old-stopped').start())();
    await node('old-crashed').beat();
    t.clock.advance(25 * 3_600_000);
    // Left out of the report at once, and deleted by the next heartbeat of any node.
    expect(await t.runtime.reports.serverStatus()).toEqual([]);
    await node('current').beat();
    expect((await t.runtime.reports.serverStatus()).map((row) => row.host)).toEqual(['current']);
    expect(await t.runtime.storage.db.selectFrom('server_nodes').select('host').execute()).toEqual([{ host: 'current' }]);
  });
});

describe('the version', () => {
  it('is the package version', () => {
    expect(VERSION).toBe((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  });
});
