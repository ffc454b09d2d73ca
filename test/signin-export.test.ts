import { afterEach, describe, expect, it } from 'vitest';
import { SigninExporter } from '../src/modules/reports/signin-export.js';
import { SigninLog } from '../src/modules/reports/signin-log.js';
import { ipKey } from '../src/shared/ip-key.js';
import { createTestRuntime, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const DAY = 86_400_000;

/**
 * The sign-in download read by worker threads, slice by slice, must be the
 * same bytes as read in turn in one thread: every row once, in (time, id)
 * order, across slice and batch boundaries, with the same filters.
 */
describe.each(DIALECTS)('the sign-in download on %s', (dialect) => {
  let t: TestRuntime;
  afterEach(() => t.dispose());

  async function seed(): Promise<number> {
    const db = t.runtime.storage.db;
    const base = t.clock.now() - 30 * DAY;
    const awkward = ['=cmd|x', 'say "hi"', 'two\nlines', 'a,b', '+1 555', 'Zoë'];
    // 4,200 sign-ins over 30 days, in bursts (many at the same millisecond) and gaps: slices of every size, some empty.
    for (let start = 0; start < 4200; start += 600) {
      const rows = Array.from({ length: 600 }, (_, offset) => {
        const index = start + offset;
        const ip = index % 5 === 0 ? null : `198.51.100.${index % 250}`;
        return {
          at: base + (index < 2000 ? Math.floor(index / 7) * 1000 : (index - 2000) * 1_000_000),
          user_id: null,
          username: index % 97 === 0 ? awkward[index % awkward.length]! : `user${index % 50}@contoso.com`,
          application_id: 'x',
          application: index % 3 === 0 ? 'VPN' : 'Mail',
          ip,
          ip_key: ipKey(ip),
          auth_type: 'vpn',
          entry_point: 'http_api',
          status: index % 4 === 0 ? 'failure' : 'success',
          mfa_required: index % 2,
          policy: 'per-user MFA',
          method: 'oath',
          result_code: null,
          detail: null,
          attempt_id: null,
          counted_failure: 0,
          steps: '[]',
          trace: '[]',
          push_fatigue: null,
          client_type: 'modern',
          device_id: null,
        };
      });
      await db.insertInto('signins').values(rows).execute();
    }
    return base;
  }

  const text = async (exporter: SigninExporter, filters: Parameters<SigninExporter['lines']>[0], format: 'csv' | 'jsonl') => {
    const parts: Buffer[] = [];
    for await (const chunk of exporter.lines(filters, format)) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    return Buffer.concat(parts).toString('utf8');
  };

  // Some twenty downloads, half of them read in turn (on PostgreSQL a round trip per batch): longer than the default timeout on a busy machine.
  it('gives the same rows in the same order from worker threads as from one thread, whatever the filters', async () => {
    t = await createTestRuntime(dialect);
    const base = await seed();
    const storage = t.runtime.storage;
    const reader = storage.bulk.withThreads(2);
    const parallel = new SigninExporter({ reader });
    const serial = new SigninExporter({ reader: storage.bulk.withThreads(0) });
    const log = new SigninLog({ db: storage.bulkDb });
    try {
      for (const filters of [{}, { application: 'VPN' }, { status: 'failure' as const, from: new Date(base + DAY).toISOString() }, { user: 'user7@contoso.com' }, { ip: '198.51.100.0/25' }]) {
        const resolved = await log.resolve(filters);
        for (const format of ['csv', 'jsonl'] as const) {
          const fromWorkers = await text(parallel, resolved, format);
          expect(fromWorkers).toBe(await text(serial, resolved, format));
        }
      }
      expect((await text(serial, await log.resolve({ ip: '198.51.100.0/25' }), 'csv')).split('\r\n').filter(Boolean).length).toBeGreaterThan(1000);
      const all = (await text(parallel, {}, 'jsonl')).trimEnd().split('\n').map((line) => JSON.parse(line) as { id: number; at: string; mfa_required: boolean });
      expect(all).toHaveLength(4200);
      const keys = all.map((row) => [Date.parse(row.at), row.id] as const);
      expect(keys.every((key, index) => index === 0 || key[0] > keys[index - 1]![0] || (key[0] === keys[index - 1]![0] && key[1] > keys[index - 1]![1]))).toBe(true);
      expect(new Set(all.map((row) => row.id)).size).toBe(4200);
      expect(typeof all[0]!.mfa_required).toBe('boolean');
      const csv = await text(parallel, {}, 'csv');
      expect(csv).toMatch(/,'=cmd\|x,(VPN|Mail),/);
      expect(csv).toContain(',"two\nlines",');
      expect(csv.split('\r\n').filter(Boolean).every((line) => /^\d+,\d{4}-\d{2}-\d{2}T/.test(line) || line.startsWith('lines",'))).toBe(true);
    } finally {
      await reader.close();
    }
  }, 90_000);

  it('pages a busy IP range in time order, as it pages a quiet one', async () => {
    t = await createTestRuntime(dialect);
    const db = t.runtime.storage.db;
    const base = t.clock.now() - DAY;
    // 6,000 sign-ins from 10.1.0.0/16 (a busy range: on SQLite read through the time index), 50 from 10.2.0.0/16.
    for (let start = 0; start < 6050; start += 550) {
      const rows = Array.from({ length: 550 }, (_, offset) => {
        const index = start + offset;
        const ip = index < 6000 ? `10.1.${index % 256}.${index % 200}` : `10.2.0.${index % 200}`;
        return { at: base + index * 1000, user_id: null, username: `u${index}`, application_id: 'x', application: 'VPN', ip, ip_key: ipKey(ip), auth_type: 'vpn', entry_point: 'http_api', status: 'success', mfa_required: 1, policy: 'p', method: null, result_code: null, detail: null, attempt_id: null, counted_failure: 0, steps: '[]', trace: '[]', push_fatigue: null, client_type: 'modern', device_id: null };
      });
      await db.insertInto('signins').values(rows).execute();
    }
    const log = t.runtime.signinLog;
    const busy = await log.list({ ip: '10.1.0.0/16' }, { limit: 100 });
    expect(busy.items.map((item) => item.username)).toEqual(Array.from({ length: 100 }, (_, index) => `u${5999 - index}`));
    const next = await log.list({ ip: '10.1.0.0/16' }, { limit: 100, cursor: busy.next_cursor! });
    expect(next.items[0]!.username).toBe('u5899');
    const quiet = await log.list({ ip: '10.2.0.0/16' }, { limit: 100 });
    expect(quiet.items.map((item) => item.username)).toEqual(Array.from({ length: 50 }, (_, index) => `u${6049 - index}`));
    expect((await log.list({ ip: '10.1.0.7' }, { limit: 100 })).items.every((item) => item.ip === '10.1.0.7')).toBe(true);
  });

  it('gives nothing for an empty log or an empty period', async () => {
    t = await createTestRuntime(dialect);
    const storage = t.runtime.storage;
    const reader = storage.bulk.withThreads(2);
    const exporter = new SigninExporter({ reader });
    try {
      expect(await text(exporter, {}, 'csv')).toBe('');
      await seed();
      expect(await text(exporter, { from: t.clock.now() + DAY }, 'csv')).toBe('');
    } finally {
      await reader.close();
    }
  });
});
