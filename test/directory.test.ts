import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyPin } from '../src/modules/directory/pin.js';
import { AppError } from '../src/shared/errors.js';
import { changesRepository } from '../src/storage/repositories/records.js';
import { usersRepository } from '../src/storage/repositories/users.js';
import { addToken } from './helpers/auth.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const codeOf = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: unknown) => (error instanceof AppError ? error.code : String(error)));

describe.each(DIALECTS)('directory on %s', (dialect) => {
  let t: TestRuntime;
  beforeEach(async () => {
    t = await createTestRuntime(dialect);
  });
  afterEach(() => t.dispose());

  const db = () => t.runtime.storage.db;
  const auditActions = async () => (await db().selectFrom('audit_log').select('action').orderBy('id').execute()).map((row) => row.action);

  it('creates a user with its change record and audit record', async () => {
    const user = await t.runtime.directory.create(
      {
        username: 'Alice@Contoso.com',
        first_name: 'Alice',
        email: 'alice@contoso.com',
        phone: { country_code: '1', number: '202-555-0123', extension: '@12#' },
        backup_phone: { country_code: '44', number: '20 7946 0018' },
        pin: '4821',
      },
      testActor,
    );
    expect(user).toMatchObject({ username: 'Alice@Contoso.com', mfa_state: 'Enabled', pin_set: true, phone: { number: '2025550123', extension: '@12#' } });
    const [change] = await changesRepository.listForUser(db(), user.id);
    expect(change).toMatchObject({
      change_type: 'create',
      username: 'Alice@Contoso.com',
      new_country_code: '1',
      new_phone_number: '2025550123',
      new_extension: '@12#',
      new_backup_country_code: '44',
      new_backup_phone_number: '2079460018',
      actor_type: 'cli',
      actor_id: 'tester',
    });
    expect(change!.new_pin_hash).not.toContain('4821');
    expect(await auditActions()).toEqual(['user.create']);
  });

  it('finds users case-insensitively and refuses a duplicate username', async () => {
    await t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    expect((await t.runtime.directory.get('BOB@contoso.COM')).username).toBe('bob@contoso.com');
    expect(await codeOf(t.runtime.directory.create({ username: 'Bob@Contoso.com' }, testActor))).toBe('username_taken');
  });

  it('stores the PIN only as a keyed hash', async () => {
    const user = await t.runtime.directory.create({ username: 'pin-user', pin: '987654' }, testActor);
    const row = await usersRepository.findById(db(), user.id);
    expect(row!.pin_hash).not.toContain('987654');
    expect(verifyPin(t.runtime.keyring, user.id, '987654', row!.pin_hash!)).toBe(true);
  });

  it('writes nothing when a create fails validation or names an unknown group', async () => {
    expect(await codeOf(t.runtime.directory.create({ username: 'x', phone: { number: '12' } }, testActor))).toBe('invalid_phone_number');
    expect(await codeOf(t.runtime.directory.create({ username: 'x', phone: { number: '2025550123', extension: 'ext9' } }, testActor))).toBe(
      'invalid_extension',
    );
    expect(await codeOf(t.runtime.directory.create({ username: 'x', groups: ['nope'] }, testActor))).toBe('unknown_group');
    expect(await usersRepository.count(db())).toBe(0);
    expect(await db().selectFrom('user_changes').selectAll().execute()).toEqual([]);
    expect(await auditActions()).toEqual([]);
  });

  it('updates only what changed and records exactly those fields', async () => {
    const user = await t.runtime.directory.create({ username: 'carol', phone: { number: '2025550123' } }, testActor);
    t.clock.advance(1000);
    const updated = await t.runtime.directory.update('carol', { phone: { number: '2025550199' }, first_name: null, mfa_state: 'Enforced' }, testActor);
    expect(updated).toMatchObject({ mfa_state: 'Enforced', phone: { number: '2025550199' } });
    expect(updated.updated_at).not.toBe(user.updated_at);
    const changes = await changesRepository.listForUser(db(), user.id);
    expect(changes).toHaveLength(2);
    expect(JSON.parse(changes[1]!.changed_fields)).toEqual(['mfa_state', 'phone']);
    expect(changes[1]).toMatchObject({ change_type: 'update', new_phone_number: '2025550199', new_backup_phone_number: null, new_pin_hash: null });
  });

  it('records nothing for an update that changes nothing', async () => {
    await t.runtime.groups.create({ name: 'Staff' }, testActor);
    await t.runtime.directory.create({ username: 'dave', language: 'fr', pin: '2580', groups: ['Staff'], phone: { number: '2025550123' } }, testActor);
    await t.runtime.directory.update('dave', { language: 'fr', pin: '2580', groups: ['staff'], phone: { number: '(202) 555-0123' } }, testActor);
    expect(await db().selectFrom('user_changes').selectAll().execute()).toHaveLength(1);
  });

  it('records only the given fields that really changed', async () => {
    await t.runtime.groups.create({ name: 'Staff' }, testActor);
    const user = await t.runtime.directory.create({ username: 'dora', language: 'fr', groups: ['Staff'] }, testActor);
    await t.runtime.directory.update('dora', { language: 'fr', groups: [], email: 'dora@contoso.com' }, testActor);
    const changes = await changesRepository.listForUser(db(), user.id);
    expect(JSON.parse(changes[1]!.changed_fields)).toEqual(['email', 'groups']);
  });

  it('renames a user, refusing a name another user has', async () => {
    await t.runtime.directory.create({ username: 'erin' }, testActor);
    await t.runtime.directory.create({ username: 'frank' }, testActor);
    expect(await codeOf(t.runtime.directory.update('erin', { username: 'FRANK' }, testActor))).toBe('username_taken');
    expect((await t.runtime.directory.update('erin', { username: 'erin.new' }, testActor)).username).toBe('erin.new');
    expect(await codeOf(t.runtime.directory.get('erin'))).toBe('user_not_found');
  });

  it('deletes a user, keeping a delete change record for synchronisation', async () => {
    const user = await t.runtime.directory.create({ username: 'gone' }, testActor);
    await t.runtime.directory.delete('gone', testActor);
    expect(await codeOf(t.runtime.directory.get('gone'))).toBe('user_not_found');
    expect((await changesRepository.listForUser(db(), user.id)).map((row) => row.change_type)).toEqual(['create', 'delete']);
    expect(await codeOf(t.runtime.directory.delete('gone', testActor))).toBe('user_not_found');
  });

  it('removes software tokens and returns hardware tokens to stock when a user is deleted', async () => {
    const user = await t.runtime.directory.create({ username: 'leaver' }, testActor);
    const software = await addToken(t.runtime, user.id);
    const hardware = await addToken(t.runtime, user.id);
    await db().updateTable('oath_tokens').set({ kind: 'hardware', serial: 'HW-1' }).where('id', '=', hardware.id).execute();
    await t.runtime.directory.delete('leaver', testActor);
    const tokens = await db().selectFrom('oath_tokens').select(['id', 'user_id']).execute();
    expect(tokens).toEqual([{ id: hardware.id, user_id: null }]);
    expect(tokens.some((token) => token.id === software.id)).toBe(false);
  });

  it('lists with paging, search and group filter', async () => {
    await t.runtime.groups.create({ name: 'VPN Users' }, testActor);
    for (const name of ['u1', 'u2', 'u3', 'u4', 'u5']) {
      await t.runtime.directory.create({ username: name, groups: name === 'u2' || name === 'u5' ? ['vpn users'] : [] }, testActor);
    }
    const first = await t.runtime.directory.list({ limit: 2 });
    expect(first.items.map((user) => user.username)).toEqual(['u1', 'u2']);
    const second = await t.runtime.directory.list({ limit: 2, cursor: first.next_cursor! });
    expect(second.items.map((user) => user.username)).toEqual(['u3', 'u4']);
    const last = await t.runtime.directory.list({ limit: 2, cursor: second.next_cursor! });
    expect(last).toMatchObject({ items: [{ username: 'u5', groups: ['VPN Users'] }], next_cursor: null });
    expect((await t.runtime.directory.list({ group: 'VPN USERS' })).items.map((user) => user.username)).toEqual(['u2', 'u5']);
    expect(await codeOf(t.runtime.directory.list({ cursor: 'garbage' }))).toBe('invalid_cursor');
    expect(await codeOf(t.runtime.directory.list({ group: 'none' }))).toBe('group_not_found');
  });

  it('group membership changes write change records for the users', async () => {
    await t.runtime.groups.create({ name: 'Finance' }, testActor);
    const user = await t.runtime.directory.create({ username: 'hank' }, testActor);
    await t.runtime.groups.addMembers('finance', ['hank'], testActor);
    expect((await t.runtime.directory.get('hank')).groups).toEqual(['Finance']);
    await t.runtime.groups.removeMember('finance', 'hank', testActor);
    await t.runtime.groups.addMembers('finance', ['hank'], testActor);
    await t.runtime.groups.delete('finance', testActor);
    expect((await t.runtime.directory.get('hank')).groups).toEqual([]);
    const changes = await changesRepository.listForUser(db(), user.id);
    expect(changes.map((row) => JSON.parse(row.changed_fields) as string[])).toEqual([['username'], ['groups'], ['groups'], ['groups'], ['groups']]);
    expect(await auditActions()).toEqual(['group.create', 'user.create', 'group.add_members', 'group.remove_member', 'group.add_members', 'group.delete']);
  });

  it('writes user adds and changes to the service log, the username sealed and without the PIN', async () => {
    // PINs long enough not to turn up by chance inside a random id of the log.
    const user = await t.runtime.directory.create({ username: 'ivy.quartermaine', pin: '7391528460' }, testActor);
    await t.runtime.directory.update('ivy.quartermaine', { pin: '8642097531' }, testActor);
    const lines = t.logLines().filter((line) => String(line.event).startsWith('user.'));
    expect(lines.map((line) => [line.event, line.user_id, line.fields])).toEqual([
      ['user.create', user.id, ['username', 'pin']],
      ['user.update', user.id, ['pin']],
    ]);
    expect(JSON.stringify(t.logLines())).not.toMatch(/7391528460|8642097531|quartermaine/);
    const open = t.runtime.personalLog.opener(t.runtime.storage.db);
    for (const line of lines) expect(await open(user.id, String(line.personal))).toEqual({ username: 'ivy.quartermaine' });
    // Sealed for this user: under another user's id it does not open.
    expect(await open('someone-else', String(lines[0]!.personal))).toBeNull();
  });
});

describe.each(DIALECTS)('log.userChanges = false on %s', (dialect) => {
  it('keeps change records but writes no user lines to the service log', async () => {
    const t = await createTestRuntime(dialect, { log: { userChanges: false } });
    try {
      const user = await t.runtime.directory.create({ username: 'quiet' }, testActor);
      await t.runtime.directory.update('quiet', { first_name: 'Q' }, testActor);
      expect(t.logLines().filter((line) => String(line.event).startsWith('user.'))).toEqual([]);
      expect(await changesRepository.listForUser(t.runtime.storage.db, user.id)).toHaveLength(2);
    } finally {
      await t.dispose();
    }
  });
});
