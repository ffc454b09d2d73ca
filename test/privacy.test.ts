import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../src/shared/errors.js';
import { authFixture } from './helpers/auth.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

describe.each(DIALECTS)('privacy requests on %s', (dialect) => {
  let t: TestRuntime;
  afterEach(() => t.dispose());
  const db = () => t.runtime.storage.db;

  it('covers a user deleted before and renamed before: every name it had, every record by id', async () => {
    t = await createTestRuntime(dialect);
    const { request, token, user } = await authFixture(t.runtime, 'erin@contoso.com');
    t.clock.advance(31_000);
    await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }));
    await t.runtime.directory.update('erin@contoso.com', { username: 'erin.west@contoso.com' }, testActor);
    t.clock.advance(31_000);
    await t.runtime.engine.auth(request({ username: 'erin.west@contoso.com', passcode: token.code(t.clock.now()) }));
    const group = await t.runtime.groups.create({ name: 'Sales' }, testActor);
    await t.runtime.groups.addMembers(group.name, ['erin.west@contoso.com'], testActor);
    // An ordinary delete keeps the records until retention.
    await t.runtime.directory.delete('erin.west@contoso.com', testActor);
    expect(await db().selectFrom('signins').select('id').where('user_id', '=', user.id).execute()).toHaveLength(2);

    // Asked by the first name: the subject is found through the change records.
    const exported = (await t.runtime.privacy.export('Erin@Contoso.com', testActor)) as { subject: { user_ids: string[]; usernames: string[] }; profile: unknown; records: Record<string, unknown[]> };
    expect(exported.subject).toEqual({ username: 'Erin@Contoso.com', user_ids: [user.id], usernames: expect.arrayContaining(['Erin@Contoso.com', 'erin@contoso.com', 'erin.west@contoso.com']) });
    expect(exported.profile).toBeNull();
    expect(exported.records.signins!.map((row) => (row as { username: string }).username)).toEqual(['erin@contoso.com', 'erin.west@contoso.com']);
    expect(exported.records.attempts).toHaveLength(2);
    expect(exported.records.changes!.map((row) => (row as { change_type: string }).change_type)).toEqual(['create', 'update', 'update', 'delete']);

    const receipt = await t.runtime.privacy.erase('erin@contoso.com', testActor);
    expect(receipt.counts).toMatchObject({ signins: 2, attempts: 2, user_changes: 4, users: 0 });
    // The audit log keeps what was done, not whom it was about: no record names the id any more.
    const audit = await db().selectFrom('audit_log').select(['action', 'target_id', 'details']).orderBy('id').execute();
    expect(JSON.stringify(audit)).not.toContain(user.id);
    expect(audit.find((row) => row.action === 'user.create')).toMatchObject({ target_id: `erased:${receipt.id}`, details: '{}' });
    expect(audit.find((row) => row.action === 'group.add_members')!.details).toContain(`erased:${receipt.id}`);
    expect(audit.at(-1)).toMatchObject({ action: 'privacy.delete', target_id: receipt.id });
  });

  it('erases sign-ins typed under a name that matched no user, by the name in any case', async () => {
    t = await createTestRuntime(dialect);
    const { request } = await authFixture(t.runtime, 'frank@contoso.com');
    await t.runtime.engine.auth(request({ username: 'Ghost.User@contoso.com' }));
    await t.runtime.engine.auth(request({ username: 'ghost.user@contoso.com' }));
    await t.runtime.engine.auth(request({ username: 'someone.else@contoso.com' }));
    const exported = (await t.runtime.privacy.export('GHOST.USER@contoso.com', testActor)) as { subject: { user_ids: string[] }; records: { signins: unknown[] } };
    expect(exported.subject.user_ids).toEqual([]);
    expect(exported.records.signins).toHaveLength(2);
    expect((await t.runtime.privacy.erase('ghost.user@contoso.com', testActor)).counts).toMatchObject({ signins: 2, attempts: 0 });
    expect((await db().selectFrom('signins').select('username').execute()).map((row) => row.username)).toEqual(['someone.else@contoso.com']);
  });

  it('refuses a name about which nothing is held, and changes nothing', async () => {
    t = await createTestRuntime(dialect);
    for (const request of [() => t.runtime.privacy.export('nobody@contoso.com', testActor), () => t.runtime.privacy.erase('nobody@contoso.com', testActor)]) {
      const error = await request().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'user_not_found', message: 'nothing is held about nobody@contoso.com' });
    }
    expect(await t.runtime.privacy.receipts()).toEqual([]);
  });
});
