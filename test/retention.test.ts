import { afterEach, describe, expect, it } from 'vitest';
import { systemActor } from '../src/shared/actor.js';
import { authFixture } from './helpers/auth.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const DAY = 86_400_000;

describe.each(DIALECTS)('retention on %s', (dialect) => {
  let t: TestRuntime;
  afterEach(() => t.dispose());
  const db = () => t.runtime.storage.db;
  const count = async (table: 'signins' | 'auth_attempts' | 'blocks' | 'bypasses' | 'user_changes' | 'telephony_log' | 'app_activations' | 'log_keys' | 'audit_log' | 'challenges') =>
    Number((await db().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  /** A day of activity: an OATH sign-in, a text message never answered, a used bypass, an ended block, a change with its service-log line. */
  async function activity(fixture: Awaited<ReturnType<typeof authFixture>>, username: string) {
    t.clock.advance(31_000);
    await t.runtime.engine.auth(fixture.request({ username, passcode: fixture.token.code(t.clock.now()) }));
    t.clock.advance(31_000);
    await t.runtime.engine.auth(fixture.request({ username, factor: 'sms' }));
    await t.runtime.bypasses.grant(username, { seconds: 60, reason: 'help desk' }, testActor);
    t.clock.advance(31_000);
    await t.runtime.engine.auth(fixture.request({ username }));
    await t.runtime.blocks.block(username, 'travel', testActor);
    await t.runtime.blocks.unblock(username, 'back', testActor);
    await t.runtime.directory.update(username, { first_name: `F${t.clock.now()}` }, testActor);
  }

  it('purges each category past its days, keeps open blocks, and leaves old service-log lines unreadable', async () => {
    t = await createTestRuntime(dialect, { retention: { signins: 30 } });
    const old = await authFixture(t.runtime, 'old@contoso.com');
    await activity(old, 'old@contoso.com');
    await t.runtime.blocks.block('old@contoso.com', 'still blocked', testActor);
    const oldLine = t.logLines().find((line) => line.event === 'user.update')!;
    t.clock.advance(60 * DAY);
    const recent = await authFixture(t.runtime, 'recent@contoso.com');
    await activity(recent, 'recent@contoso.com');
    const recentLine = t.logLines().filter((line) => line.event === 'user.update').at(-1)!;
    const before = { signins: await count('signins'), attempts: await count('auth_attempts'), blocks: await count('blocks'), keys: await count('log_keys') };
    expect(before).toEqual({ signins: 4, attempts: 4, blocks: 3, keys: 2 });

    // 91 days after the first day: its records are past 90 days; the recent ones are 31 days old, past signins = 30 only.
    t.clock.advance(31 * DAY);
    const report = await t.runtime.retention.run(systemActor('retention'));
    expect(report.deleted).toMatchObject({ auth_attempts: 2, signins: 4, bypasses: 1, blocks: 1, user_changes: 2, telephony_log: 1, challenges: 1, log_keys: 1 });
    expect(report.cutoffs.signins).toBe(new Date(t.clock.now() - 30 * DAY).toISOString());
    expect(report.cutoffs.attempts).toBe(new Date(t.clock.now() - 90 * DAY).toISOString());
    expect(await count('signins')).toBe(0);
    expect(await count('auth_attempts')).toBe(2);
    expect(await count('challenges')).toBe(1);
    // The first user's open block stays, the ended one went; the recent user's block stays.
    const blocks = await db().selectFrom('blocks').select(['username', 'completed_at']).orderBy('id').execute();
    expect(blocks.map((row) => [row.username, row.completed_at === null])).toEqual([
      ['old@contoso.com', true],
      ['recent@contoso.com', false],
    ]);
    const open = t.runtime.personalLog.opener(db());
    expect(await open(String(oldLine.user_id), String(oldLine.personal))).toBeNull();
    expect(await open(String(recentLine.user_id), String(recentLine.personal))).toEqual({ username: 'recent@contoso.com' });
    // The purge is audited (counts only); a second run finds nothing more.
    expect(await db().selectFrom('audit_log').select('action').where('action', '=', 'retention.purge').execute()).toHaveLength(1);
    expect(Object.values((await t.runtime.retention.run(systemActor('retention'))).deleted).every((n) => n === 0)).toBe(true);
  });

  it('deletes in batches of retention.batchSize, oldest first', async () => {
    t = await createTestRuntime(dialect, { retention: { batchSize: 100 } });
    const fixture = await authFixture(t.runtime);
    t.clock.advance(31_000);
    await t.runtime.engine.auth(fixture.request({ passcode: fixture.token.code(t.clock.now()) }));
    const [row] = await db().selectFrom('signins').selectAll().execute();
    const { id: _id, mfa_required: mfaRequired, counted_failure: counted, ...signin } = row!;
    const flags = { mfa_required: Number(Boolean(mfaRequired)), counted_failure: Number(Boolean(counted)) }; // PostgreSQL reads booleans
    // 250 more sign-ins, a day apart before it.
    for (let day = 0; day < 250; day += 1) await db().insertInto('signins').values({ ...signin, ...flags, at: signin.at - day * DAY }).execute();
    t.clock.advance(100 * DAY);
    const report = await t.runtime.retention.run(systemActor('retention'));
    // All 251 are over 100 days old: three batches of sign-ins, one for each of the eleven other tables, two for roll-up failures and keys.
    expect(report.deleted.signins).toBe(251);
    expect(report.batches).toBe(3 + 11 + 2);
    expect(await count('signins')).toBe(0);
  });
});
